// toml_config.h: lets CLI11 read its --config file with toml++.
//
// Owns: the translation of a TOML document into CLI11 config items (one per
// key; arrays become repeated values; nested tables become sections). Keys
// may use `_` or `-`. Parse errors become CLI::FileError with the line and
// column. Concurrency: stateless.
#pragma once

#include <CLI/CLI.hpp>

namespace presenced::control {

class TomlConfig : public CLI::Config {
 public:
  std::string to_config(const CLI::App* app, bool default_also, bool write_description,
                        std::string prefix) const override;
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;
};

}  // namespace presenced::control
