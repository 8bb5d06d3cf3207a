// One dedicated thread per model runs its inference tasks in order. Why not the libuv pool: LibTorch's
// OpenMP thread count is per calling thread (set_num_threads on the main thread does not reach a pool
// thread), a fixed thread keeps one warm OpenMP team, concurrent calls on a model never oversubscribe
// the cores, and the libuv pool stays free for file I/O and audio decoding.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace w2v {

// Threads for inference when a model has no `threads` option: setNumThreads() from JS.
int DefaultThreads();

// Lowers the calling thread's CPU priority below the event loop's (Linux): when the cores are short, a request's
// I/O and a timer run first and inference waits a moment, rather than the event loop waiting for inference.
void YieldToEventLoop();
void SetDefaultThreads(int n);

class InferenceThread {
 public:
  // `threads` is read before each task: > 0 fixes this thread's intra-op thread count, 0 follows DefaultThreads().
  explicit InferenceThread(int threads);
  ~InferenceThread();  // finishes queued tasks, then joins

  InferenceThread(const InferenceThread&) = delete;
  InferenceThread& operator=(const InferenceThread&) = delete;

  void Post(std::function<void()> task);

  // Finishes the task in progress and the queued ones, then joins. Idempotent.
  void StopAndJoin();

  // Joins every live inference thread (each finishes its current and queued tasks). lib/native.ts calls it from
  // process.on('exit'): process.exit() skips Node's cleanup of live models and goes straight to exit(), and a
  // thread still inside LibTorch while exit() destroys LibTorch's static objects crashes the process. An atexit
  // handler is too late: statics LibTorch constructs lazily (during a call) are destroyed before it runs.
  static void JoinAll();

 private:
  void Run();

  const int threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace w2v
