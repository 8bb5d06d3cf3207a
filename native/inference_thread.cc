#include "inference_thread.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <set>

#ifdef __linux__
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace w2v {
namespace {
std::atomic<int> g_default_threads{0};

// Every live InferenceThread, for JoinAll. Never destroyed: it may be used while the process exits.
std::mutex& RegistryMutex() {
  static auto* m = new std::mutex();
  return *m;
}
std::set<InferenceThread*>& Registry() {
  static auto* r = new std::set<InferenceThread*>();
  return *r;
}
}  // namespace

void InferenceThread::JoinAll() {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  for (InferenceThread* t : Registry()) t->StopAndJoin();
}

int DefaultThreads() {
  int n = g_default_threads.load();
  if (n <= 0) {
    n = at::get_num_threads();  // LibTorch's own default: the physical cores
    g_default_threads.store(n);
  }
  return n;
}

void SetDefaultThreads(int n) { g_default_threads.store(n); }

void YieldToEventLoop() {
#ifdef __linux__
  // Linux schedules threads on their own: SCHED_BATCH and a nice 5 higher for this thread, inherited by the intra-op
  // threads it starts. Best effort: a container may refuse, and then nothing changes.
  const sched_param none{};
  sched_setscheduler(0, SCHED_BATCH, &none);
  // Five below the thread's own nice (a process started with `nice` keeps its order), at most 19.
  const id_t tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, tid);
  if (errno == 0) setpriority(PRIO_PROCESS, tid, std::min(nice + 5, 19));
#endif
}

InferenceThread::InferenceThread(int threads) : threads_(threads), thread_([this] { Run(); }) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry().insert(this);
}

InferenceThread::~InferenceThread() {
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    Registry().erase(this);
  }
  StopAndJoin();
}

void InferenceThread::StopAndJoin() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void InferenceThread::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void InferenceThread::Run() {
  YieldToEventLoop();
  // InferenceMode is thread-local: held for the life of this thread, it covers every task.
  c10::InferenceMode guard;
  int current = -1;
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stop_ and drained
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    const int want = threads_ > 0 ? threads_ : DefaultThreads();
    if (want != current) {
      at::set_num_threads(want);
      current = want;
    }
    task();  // tasks catch their own exceptions
  }
}

}  // namespace w2v
