// `deepchrome models`: the model registry (models/registry.h) as a user reads it: every
// model, what it is, and its config keys with their defaults. `--markdown` prints the same
// as the README's model table (a test keeps the two identical); `train --help` lists the
// names from the same registry.
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "kernels/base/error.h"
#include "models/registry.h"

namespace dc::cli {
namespace {

const char* kHelp = R"(usage: deepchrome models [--markdown]

Lists the models `model.name` can name, what each is, and its config keys with their
defaults (set them in the config's "model" section or with --set model.KEY=VALUE).

  --markdown   the same as a Markdown table (the README's model list)
)";

// "key default, key default, ..." for every key but the name.
std::string keys_of(const ModelInfo& m, const char* quote) {
  std::string out;
  const nlohmann::json defaults = m.defaults();  // items() refers to it: keep it alive
  for (const auto& [key, value] : defaults.items()) {
    if (key == "name") continue;
    out += (out.empty() ? "" : ", ") + std::string(quote) + key + quote + " " + value.dump();
  }
  return out.empty() ? "(none)" : out;
}

}  // namespace

std::string model_table_markdown() {
  std::string s = "| model | what it is | config keys (defaults) |\n|---|---|---|\n";
  for (const ModelInfo& m : model_registry()) s += "| `" + m.name + "` | " + m.summary + " | " + keys_of(m, "`") + " |\n";
  return s;
}

std::string model_list_text(const std::string& indent) {
  std::string s;
  for (const ModelInfo& m : model_registry()) {
    s += indent + m.name + std::string(m.name.size() < 16 ? 16 - m.name.size() : 1, ' ') + m.summary + "\n";
    s += indent + std::string(16, ' ') + "keys: " + keys_of(m, "") + "\n";
  }
  return s;
}

int cmd_models(const Args& args) {
  ArgParser p("models", args, {}, {"help", "markdown"});
  if (p.flag("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!p.positionals().empty()) throw InputError("models: unexpected argument '" + p.positionals()[0] + "'");
  std::fputs((p.flag("markdown") ? model_table_markdown() : model_list_text("")).c_str(), stdout);
  return 0;
}

}  // namespace dc::cli
