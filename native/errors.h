// Error mapping: every failure inside the addon becomes a CodedError (a stable code shared with
// lib/errors.ts plus a one-line message), and only then a JS Error. No C++ exception crosses N-API.
#pragma once

#include <napi.h>

#include <stdexcept>
#include <string>

namespace w2v {

struct CodedError : std::runtime_error {
  CodedError(std::string code, const std::string& message, std::string detail = "")
      : std::runtime_error(message), code(std::move(code)), detail(std::move(detail)) {}
  std::string code;
  std::string detail;  // e.g. the TorchScript traceback, kept out of the message
};

// Converts the exception being handled (call only inside a catch block) into a CodedError. LibTorch's
// c10::Error loses its C++ backtrace; a TorchScript `raise ValueError(...)` becomes INVALID_INPUT with the
// Python message; anything else gets `fallbackCode`.
CodedError CurrentException(const char* fallbackCode);

// A JS Error with `code` (and `detail` when present) set.
Napi::Error ToJsError(Napi::Env env, const CodedError& error);
Napi::Error MakeJsError(Napi::Env env, const std::string& code, const std::string& message);

}  // namespace w2v

// Guards for arguments that TypeScript already validated: a bad direct call must still not crash.
#define W2V_REQUIRE(env, cond, message)                                   \
  do {                                                                    \
    if (!(cond)) throw ::w2v::MakeJsError((env), "INVALID_INPUT", (message)); \
  } while (0)
