#include "control/toml_config.h"

#include <sstream>

#include <toml++/toml.h>

namespace presenced::control {
namespace {

std::string key_to_option(std::string k) {
  for (char& c : k) {
    if (c == '_') c = '-';
  }
  return k;
}

std::string value_text(const toml::node& n) {
  if (const auto* s = n.as_string()) return s->get();
  if (const auto* i = n.as_integer()) return std::to_string(i->get());
  if (const auto* f = n.as_floating_point()) {
    std::ostringstream os;
    os << f->get();
    return os.str();
  }
  if (const auto* b = n.as_boolean()) return b->get() ? "true" : "false";
  // Dates, times and nested arrays/tables: no presenced option takes them.
  throw CLI::ConversionError("unsupported TOML value type for a presenced option");
}

void collect(const toml::table& t, std::vector<std::string>& parents,
             std::vector<CLI::ConfigItem>& out) {
  for (const auto& [key, node] : t) {
    const std::string name = key_to_option(std::string(key.str()));
    if (const auto* sub = node.as_table()) {
      parents.push_back(name);
      collect(*sub, parents, out);
      parents.pop_back();
      continue;
    }
    CLI::ConfigItem item;
    item.parents = parents;
    item.name = name;
    if (const auto* arr = node.as_array()) {
      for (const auto& v : *arr) item.inputs.push_back(value_text(v));
    } else {
      item.inputs.push_back(value_text(node));
    }
    out.push_back(std::move(item));
  }
}

}  // namespace

std::string TomlConfig::to_config(const CLI::App*, bool, bool, std::string) const {
  return {};  // presenced does not write config files
}

std::vector<CLI::ConfigItem> TomlConfig::from_config(std::istream& input) const {
  std::stringstream buffer;
  buffer << input.rdbuf();
  toml::table doc;
  try {
    doc = toml::parse(buffer.str());
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "invalid TOML at line " << e.source().begin.line << ", column "
        << e.source().begin.column << ": " << e.description();
    throw CLI::FileError(msg.str());
  }
  std::vector<CLI::ConfigItem> parsed;
  std::vector<std::string> parents;
  collect(doc, parents, parsed);
  return parsed;
}

}  // namespace presenced::control
