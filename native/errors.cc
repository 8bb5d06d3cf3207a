#include "errors.h"

#include <c10/util/Exception.h>
#include <torch/csrc/jit/runtime/jit_exception.h>

#include <sstream>
#include <vector>

namespace w2v {
namespace {

std::string Trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::string LastLine(const std::string& s) {
  std::istringstream in(s);
  std::string line, last;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (!line.empty()) last = line;
  }
  return last;
}

// TorchScript errors carry two tracebacks before the message that matters; the message is the last line.
CodedError FromText(const char* code, const std::string& text) {
  const std::string trimmed = Trim(text);
  if (trimmed.find("Traceback of TorchScript") != std::string::npos) {
    std::string last = LastLine(trimmed);
    std::string outCode = code;
    const std::string valueError = "builtins.ValueError: ";
    if (last.rfind(valueError, 0) == 0) {
      last = last.substr(valueError.size());
      outCode = "INVALID_INPUT";
    }
    return CodedError(outCode, last, trimmed);
  }
  return CodedError(code, trimmed);
}

}  // namespace

CodedError CurrentException(const char* fallbackCode) {
  try {
    throw;
  } catch (const CodedError& e) {
    return e;
  } catch (const Napi::Error& e) {
    const Napi::Value code = e.Value().Get("code");
    return CodedError(code.IsString() ? code.As<Napi::String>().Utf8Value() : fallbackCode, e.Message());
  } catch (const torch::jit::JITException& e) {
    const auto cls = e.getPythonClassName();
    const auto original = e.getOriginalMsg();
    if (cls && *cls == "builtins.ValueError" && original) {
      return CodedError("INVALID_INPUT", Trim(*original), Trim(e.what()));
    }
    return FromText(fallbackCode, e.what());
  } catch (const c10::Error& e) {
    return FromText(fallbackCode, e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    return CodedError(fallbackCode, "out of memory: use shorter inputs or a smaller batch");
  } catch (const std::exception& e) {
    return FromText(fallbackCode, e.what());
  } catch (...) {
    return CodedError(fallbackCode, "unknown native error");
  }
}

Napi::Error MakeJsError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

Napi::Error ToJsError(Napi::Env env, const CodedError& error) {
  Napi::Error js = MakeJsError(env, error.code, error.what());
  if (!error.detail.empty()) js.Set("detail", Napi::String::New(env, error.detail));
  return js;
}

}  // namespace w2v
