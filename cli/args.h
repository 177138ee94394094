// A small command-line parser shared by the subcommands: `--name value`, `--name=value`,
// repeatable options, boolean flags and positionals. Unknown options are InputErrors that
// name the option and the command.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kernels/base/error.h"

namespace dc::cli {

class ArgParser {
 public:
  // `valued`: options that take a value; `flags`: options that take none.
  ArgParser(std::string command, const std::vector<std::string>& args, std::set<std::string> valued,
            std::set<std::string> flags = {})
      : command_(std::move(command)) {
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a.size() > 2 && a.rfind("--", 0) == 0) {
        std::string name = a.substr(2), value;
        const size_t eq = name.find('=');
        const bool inline_value = eq != std::string::npos;
        if (inline_value) { value = name.substr(eq + 1); name = name.substr(0, eq); }
        if (flags.count(name)) {
          if (inline_value) throw InputError(command_ + ": option --" + name + " takes no value");
          flags_.insert(name);
        } else if (valued.count(name)) {
          if (!inline_value) {
            if (i + 1 >= args.size()) throw InputError(command_ + ": option --" + name + " needs a value");
            value = args[++i];
          }
          values_[name].push_back(value);
        } else {
          throw InputError(command_ + ": unknown option --" + name + " (see `deepchrome " + command_ + " --help`)");
        }
      } else if (a == "-h") {
        flags_.insert("help");
      } else {
        positionals_.push_back(a);
      }
    }
  }

  bool flag(const std::string& name) const { return flags_.count(name) > 0; }
  std::optional<std::string> value(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    return it->second.back();
  }
  std::string required(const std::string& name) const {
    auto v = value(name);
    if (!v) throw InputError(command_ + ": missing required option --" + name);
    return *v;
  }
  std::vector<std::string> all(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::string command_;
  std::map<std::string, std::vector<std::string>> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positionals_;
};

}  // namespace dc::cli
