// control_json_fuzz.cc: libFuzzer target for the control API's request
// parsing (control/json_codec.h).
//
// Owns: the properties every request body must hold, whatever its bytes.
// Each input is parsed by nlohmann-json without exceptions (as the HTTP
// handlers do) and, when it is JSON, handed to every request parser: the
// config PATCH, reconnect, drain and batch query. The raw bytes also go
// through parse_user_id (the {user} of GET /v1/users/{user}). The target
// traps (std::abort) when:
//   - a parser throws (handlers must never see an exception);
//   - a refusal comes without a message (every 400 names its problem);
//   - an accepted PATCH gives a configuration engine::validate() refuses,
//     or one that does not survive config_json -> apply_config_patch;
//   - an accepted reconnect/drain has a spread over kMaxSpreadMs, or a
//     reconnect with scope kDevice has no device / kAll a user;
//   - an accepted batch holds more than kMaxBatchUsers ids or an id 0;
//   - parse_user_id accepts 0, text that is not plain decimal, or a value
//     whose decimal form is not the input.
// Memory errors, leaks and undefined behaviour are ASan's and UBSan's job.
//
// Build: tests/fuzz/meson.build (clang, -Dfuzz=true). Seeds:
// tests/fuzz/corpus/control_json/.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "control/json_codec.h"

namespace {

namespace jc = presenced::control::json_codec;
using presenced::engine::EngineConfig;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "control_json_fuzz: %s\n", what);
  std::abort();
}

void check_refusal(bool ok, const std::string& error, const char* what) {
  if (!ok && error.empty()) fail(what);
}

void check_config(const jc::Json& body) {
  EngineConfig config;
  auto level = presenced::log::Level::kInfo;
  std::string error;
  const bool ok = jc::apply_config_patch(body, config, level, &error);
  check_refusal(ok, error, "config PATCH refused without a message");
  if (!ok) return;
  if (presenced::engine::validate(config).has_value()) fail("accepted PATCH fails validate()");
  // What GET /v1/config shows must be a PATCH that reproduces it.
  EngineConfig again;
  auto level_again = presenced::log::Level::kError;
  std::string error_again;
  if (!jc::apply_config_patch(jc::config_json(config, level), again, level_again,
                              &error_again)) {
    fail("config_json output refused as a PATCH");
  }
  if (!(again == config) || level_again != level) fail("config does not round-trip");
}

void check_reconnect(const jc::Json& body) {
  presenced::control::ReconnectRequest r;
  std::string error;
  const bool ok = jc::parse_reconnect(body, r, &error);
  check_refusal(ok, error, "reconnect refused without a message");
  if (!ok) return;
  if (r.directive.spread_ms > jc::kMaxSpreadMs) fail("reconnect spread over the maximum");
  if (r.scope != presenced::engine::ReconnectScope::kAll && r.user == 0) {
    fail("reconnect of user 0");
  }
}

void check_drain(const jc::Json& body) {
  presenced::engine::ReconnectDirective d;
  uint32_t rate = 1234;
  std::string error;
  const bool ok = jc::parse_drain(body, d, rate, &error);
  check_refusal(ok, error, "drain refused without a message");
  if (!ok) return;
  if (d.spread_ms > jc::kMaxSpreadMs) fail("drain spread over the maximum");
  if (rate == 0) fail("drain rate 0 accepted");
}

void check_batch(const jc::Json& body) {
  std::vector<uint64_t> users;
  std::string error;
  const jc::BatchResult r = jc::parse_batch(body, users, &error);
  check_refusal(r == jc::BatchResult::kOk, error, "batch refused without a message");
  if (r != jc::BatchResult::kOk) return;
  if (users.size() > jc::kMaxBatchUsers) fail("batch over the maximum accepted");
  for (uint64_t u : users) {
    if (u == 0) fail("batch with user 0 accepted");
  }
}

void check_user_id(std::string_view text) {
  uint64_t v = 0;
  if (!jc::parse_user_id(text, v)) return;
  if (v == 0) fail("user id 0 accepted");
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  const std::string_view canonical(buf, static_cast<std::size_t>(end - buf));
  // Leading zeros are the one accepted difference from the canonical form.
  std::string_view t = text;
  while (t.size() > canonical.size() && t.front() == '0') t.remove_prefix(1);
  if (ec != std::errc() || t != canonical) fail("user id accepted that is not its decimal form");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_user_id(text);
  const jc::Json body = jc::Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return 0;
  try {
    check_config(body);
    check_reconnect(body);
    check_drain(body);
    check_batch(body);
  } catch (...) {
    fail("a request parser threw");
  }
  return 0;
}
