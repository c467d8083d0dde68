#include "dataplane/common/duration.h"

#include <cmath>
#include <exception>

namespace presenced {

bool parse_duration_ms(const std::string& text, uint64_t default_unit_ms, uint64_t& ms) {
  if (text.empty()) return false;
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return false;
  }
  const std::string unit = text.substr(used);
  double scale = 0;
  if (unit.empty()) {
    scale = static_cast<double>(default_unit_ms);
  } else if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m" || unit == "min") {
    scale = 60'000;
  } else {
    return false;
  }
  const double v = value * scale;
  if (!std::isfinite(v) || v < 0 || v > 1e15) return false;
  ms = static_cast<uint64_t>(std::llround(v));
  return true;
}

}  // namespace presenced
