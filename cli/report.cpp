// `deepchrome report`: writes report.html for a finished run folder (metrics, training
// curves, test ROC / PR, attention when the run exported it). `explain` adds its figures
// through the same library call (io/figures/html_report.h).
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "kernels/base/error.h"
#include "io/formats/atomic_file.h"
#include "io/figures/html_report.h"

namespace dc::cli {
namespace {

const char* kHelp = R"(usage: deepchrome report --run RUN_DIR [--out FILE]

Writes a self-contained HTML page about a finished training run (one file: inline SVG
figures and CSS, no scripts, nothing loaded from the network): the run's model, cell and
resolved config, its metrics, the training curves (train loss and valid AUROC per epoch),
the ROC and precision-recall curves of the test split, and, for models with attention, the
mean attention per class.

  --run RUN_DIR  a run folder written by `deepchrome train` (metrics.json, predictions.csv,
                 config.json; attention_bins.csv / attention_marks.csv when present)
  --out FILE     where to write the page (default RUN_DIR/report.html), atomically
)";

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

int cmd_report(const Args& args) {
  ArgParser p("report", args, {"run", "out"}, {"help"});
  if (p.flag("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!p.positionals().empty()) throw InputError("report: unexpected argument '" + p.positionals()[0] + "'");
  const std::string run_dir = p.required("run");
  if (!is_directory(run_dir)) throw InputError("report: --run " + run_dir + ": no such folder");
  const std::string out = p.value("out").value_or(run_dir + "/report.html");
  io::figures::RunReport report = io::figures::load_run_report(run_dir);
  report.generator = "deepchrome " DEEPCHROME_VERSION;
  const size_t slash = out.rfind('/');
  if (slash != std::string::npos && slash > 0) io::ensure_directory(out.substr(0, slash));
  io::figures::write_report_html(out, report);
  std::printf("wrote %s\n", out.c_str());
  return 0;
}

}  // namespace dc::cli
