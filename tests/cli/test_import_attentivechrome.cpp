// tools/import_attentivechrome.py, run with plain python3 (no torch): official
// AttentiveChrome checkpoints (tests/data/fixtures/attentivechrome_official*.pt, written by
// tools/make_attentivechrome_checkpoint.py in the official code's layout) become run folders
// whose `deepchrome predict` reproduces the official probabilities and whose model, loaded
// with the project's own loader, pays the official attention (alpha, beta); bad checkpoints
// are refused with exit 2, a message naming the problem, and RUN_DIR left as it was.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/experiment/config.h"
#include "io/experiment/report.h"
#include "io/formats/dataset.h"
#include "io/formats/safetensors.h"
#include "models/metrics.h"
#include "models/trainer.h"
#include "command_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

using namespace dc::test::command;

namespace {

const fs::path kWork = fs::path(DC_BINARY_DIR) / "test_import_work";
const std::string kImporter = std::string(DC_SOURCE_DIR) + "/tools/import_attentivechrome.py";
const fs::path kFixtures = fs::path(DC_TEST_DATA_DIR) / "fixtures";

Result sh(const std::string& cmd) { return sh_in(kWork, cmd); }

// A fresh work folder, and python3 present (scripts/install_deps.sh installs it).
void prepare() {
  static bool done = false;
  if (done) return;
  fs::remove_all(kWork);
  fs::create_directories(kWork);
  const Result py = sh("python3 --version");
  const std::string why = "python3 is needed to run tools/import_attentivechrome.py: " + py.out;
  REQUIRE_MESSAGE(py.code == 0, why);
  done = true;
}

Result import(const std::string& pt, const std::string& run_dir, const std::string& extra = "") {
  return sh("python3 -B '" + kImporter + "' '" + pt + "' '" + run_dir + "'" + extra);
}

std::vector<float> values(const dc::io::SafetensorsFile& f, const std::string& name) {
  REQUIRE_MESSAGE(f.tensors.count(name), name);
  return f.tensors.at(name).to_vector();
}

// Nothing the importer leaves behind in the work folder: no RUN_DIR, no temporary folders.
void check_untouched(const std::string& run_dir) {
  CHECK_FALSE(fs::exists(kWork / run_dir));
  for (const auto& e : fs::directory_iterator(kWork)) {
    CAPTURE(e.path().string());
    CHECK_FALSE(has(e.path().filename().string(), ".import-"));
  }
}

// The genes of a reference file as a DeepChrome CSV (label 1 for every other gene), so
// `predict` and `eval` can read them. x is the official layout (genes, 100 bins, 5 marks).
void write_genes_csv(const fs::path& path, const std::vector<float>& x, size_t genes) {
  std::ofstream out(path);
  for (size_t g = 0; g < genes; ++g)
    for (int b = 0; b < 100; ++b) {
      out << "G" << g << "," << b + 1;
      for (int m = 0; m < 5; ++m) out << "," << std::lround(x[(g * 100 + b) * 5 + m]);
      out << "," << (g % 2) << "\n";
    }
}

}  // namespace

TEST_CASE("imported official checkpoints reproduce the official probabilities and attention") {
  prepare();
  // (fixture, bin_rnn_size, layers): zip state_dict at the published sizes; legacy
  // container with cuDNN-style shared storages and two layers; a whole pickled module.
  const struct {
    const char* name;
    int bin_rnn_size, layers;
    const char* contents;
  } cases[] = {{"attentivechrome_official", 32, 1, "state_dict, torch zip container"},
               {"attentivechrome_official_legacy", 10, 2, "state_dict, torch legacy container"},
               {"attentivechrome_official_module", 8, 1, "pickled att_chrome module, torch legacy container"}};
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const std::string run = std::string("run_") + c.name;
    const Result r = import((kFixtures / (std::string(c.name) + ".pt")).string(), run, " --cell E003");
    REQUIRE_MESSAGE(r.code == 0, r.out);
    CHECK(has(r.out, c.contents));
    check_untouched("no_such_run");

    const dc::io::SafetensorsFile ref = dc::io::load_safetensors((kFixtures / (std::string(c.name) + ".reference.safetensors")).string());
    const std::vector<float> x = values(ref, "input.x"), prob = values(ref, "output.prob");
    const std::vector<float> alpha = values(ref, "output.alpha"), beta = values(ref, "output.beta");
    const size_t genes = prob.size();
    REQUIRE(genes >= 4);
    REQUIRE(x.size() == genes * 500);
    REQUIRE(alpha.size() == genes * 500);
    REQUIRE(beta.size() == genes * 5);

    // config.json: a valid experiment config naming the checkpoint's sizes.
    const json config = dc::io::load_json_file((kWork / run / "config.json").string());
    CHECK_NOTHROW(dc::io::resolve_config(config, run + "/config.json"));
    CHECK(config["model"]["name"] == "attentivechrome");
    CHECK(config["model"]["bin_hidden"] == c.bin_rnn_size);
    CHECK(config["model"]["mark_hidden"] == c.bin_rnn_size / 2);
    CHECK(config["model"]["layers"] == c.layers);
    CHECK(config["model"]["bidirectional"] == true);
    CHECK(config["model"]["loss"] == "bce");
    CHECK(config["data"]["cells"] == json::array({"E003"}));

    // `deepchrome predict` gives the official sigmoid(fdiff1_1(.)) for every gene.
    write_genes_csv(kWork / (run + ".csv"), x, genes);
    const Result p = sh(kBin + " predict --checkpoint " + run + " --csv " + run + ".csv --out " + run + ".pred.csv --threads 2");
    REQUIRE_MESSAGE(p.code == 0, p.out);
    std::istringstream lines(slurp(kWork / (run + ".pred.csv")));
    std::string line;
    std::getline(lines, line);
    CHECK(line == "gene_id,label,prob_high");
    std::vector<float> ours;
    while (std::getline(lines, line)) ours.push_back(std::stof(line.substr(line.rfind(',') + 1)));
    REQUIRE(ours.size() == genes);
    double worst = 0;
    for (size_t g = 0; g < genes; ++g) worst = std::max(worst, std::fabs(double(ours[g]) - prob[g]));
    INFO("largest |P(high) - official| = " << worst);
    CHECK(worst <= 1e-6);
    // The reference probabilities are not all alike: a mis-mapped tensor cannot hide.
    float lo = 1, hi = 0;
    for (float v : prob) lo = std::min(lo, v), hi = std::max(hi, v);
    CHECK(hi - lo > 0.05f);

    // `deepchrome eval` reads the same folder: its AUROC is the one of the official scores.
    const Result e = sh(kBin + " eval --checkpoint " + run + " --data " + run + ".csv --json --threads 2");
    REQUIRE_MESSAGE(e.code == 0, e.out);
    std::vector<int8_t> labels(genes);
    for (size_t g = 0; g < genes; ++g) labels[g] = static_cast<int8_t>(g % 2);
    CHECK(json::parse(e.out)["file"]["auroc"].get<double>() == doctest::Approx(dc::auroc(prob, labels)).epsilon(1e-12));

    // The attention: the run folder loaded by the project's loader, alpha (genes, 5, 100)
    // against the official bin_a (genes, 5 * 100; the marks' alphas concatenated in order)
    // and beta (genes, 5) against the official hm-level attention.
    dc::io::Checkpoint ck = dc::io::load_checkpoint((kWork / run).string());
    dc::io::LoadOptions opts;
    opts.use_cache = false;
    const dc::io::Split split = dc::io::load_split((kWork / (run + ".csv")).string(), opts);
    const dc::AttentionExport att = dc::collect_attention(*ck.model, split.view());
    REQUIRE(att.available);
    REQUIRE(att.rows == 5);
    REQUIRE(att.bins.size() == alpha.size());
    REQUIRE(att.marks.size() == beta.size());
    double worst_alpha = 0, worst_beta = 0, spread = 0;
    for (size_t i = 0; i < alpha.size(); ++i) {
      worst_alpha = std::max(worst_alpha, std::fabs(double(att.bins[i]) - alpha[i]));
      spread = std::max(spread, std::fabs(double(alpha[i]) - 0.01));
    }
    for (size_t i = 0; i < beta.size(); ++i) worst_beta = std::max(worst_beta, std::fabs(double(att.marks[i]) - beta[i]));
    INFO("largest |alpha - official| = " << worst_alpha << ", |beta - official| = " << worst_beta);
    CHECK(worst_alpha <= 1e-6);
    CHECK(worst_beta <= 1e-6);
    CHECK(spread > 0.01);  // the official alpha is far from uniform (1/100)
  }
}

TEST_CASE("bad checkpoints: exit 2, the problem named, RUN_DIR not created") {
  prepare();
  const std::string fixtures = kFixtures.string() + "/";

  Result r = import(fixtures + "attentivechrome_bad_shape.pt", "bad1");
  CHECK(r.code == 2);
  CHECK(has(r.out, "attentivechrome_bad_shape.pt"));
  CHECK(has(r.out, "wrong shapes: fdiff1_1.weight is [1, 5], expected [1, 2]"));
  check_untouched("bad1");

  r = import(fixtures + "attentivechrome_bad_missing.pt", "bad2");
  CHECK(r.code == 2);
  CHECK(has(r.out, "missing keys: hm_level_rnn_1.bin_attention.bin_context_vector"));
  check_untouched("bad2");

  // A pickle naming posix.system is refused before anything is called.
  r = import(fixtures + "attentivechrome_bad_global.pt", "bad3");
  CHECK(r.code == 2);
  CHECK(has(r.out, "refuses the pickled global 'posix.system'"));
  CHECK_FALSE(fs::exists(kWork / "PWNED_BY_PICKLE"));
  check_untouched("bad3");

  // A key renamed inside the zip's data.pkl (same length, CRC rewritten by zipfile):
  // one key missing, one unexpected.
  const Result edit = sh("python3 -c \"import zipfile, sys\n"
                         "src = zipfile.ZipFile(sys.argv[1]); dst = zipfile.ZipFile('renamed.pt', 'w')\n"
                         "for n in src.namelist():\n"
                         "    d = src.read(n)\n"
                         "    dst.writestr(n, d.replace(b'fdiff1_1.bias', b'fdiff1_1.biaz') if n.endswith('data.pkl') else d)\n"
                         "dst.close()\" '" + fixtures + "attentivechrome_official.pt'");
  REQUIRE_MESSAGE(edit.code == 0, edit.out);
  r = import("renamed.pt", "bad4");
  CHECK(r.code == 2);
  CHECK(has(r.out, "missing keys: fdiff1_1.bias"));
  CHECK(has(r.out, "unexpected keys: fdiff1_1.biaz"));
  check_untouched("bad4");

  // Not a checkpoint at all; a truncated legacy file; a truncated zip; no file.
  {
    std::ofstream(kWork / "genes.csv") << "000003,1,4,3,0,8,4,1\n";
  }
  r = import("genes.csv", "bad5");
  CHECK(r.code == 2);
  CHECK(has(r.out, "genes.csv: not a torch checkpoint"));
  check_untouched("bad5");
  for (const char* name : {"attentivechrome_official_legacy.pt", "attentivechrome_official.pt"}) {
    CAPTURE(name);
    const std::string whole = slurp(fixtures + name);
    std::ofstream(kWork / "cut.pt", std::ios::binary) << whole.substr(0, whole.size() * 2 / 3);
    r = import("cut.pt", "bad6");
    CHECK(r.code == 2);
    CHECK(has(r.out, "cut.pt: "));
    CHECK_FALSE(has(r.out, "Traceback"));
    check_untouched("bad6");
  }
  r = import("no_such_file.pt", "bad7");
  CHECK(r.code == 2);
  CHECK(has(r.out, "no_such_file.pt: cannot read the file"));
  check_untouched("bad7");
}

TEST_CASE("an existing RUN_DIR is left alone, and replaced whole only with --force") {
  prepare();
  const std::string good = (kFixtures / "attentivechrome_official_module.pt").string();
  fs::create_directories(kWork / "taken");
  std::ofstream(kWork / "taken" / "mine.txt") << "keep me\n";
  Result r = import(good, "taken");
  CHECK(r.code == 2);
  CHECK(has(r.out, "already exists"));
  CHECK(slurp(kWork / "taken" / "mine.txt") == "keep me\n");
  // --force with a bad checkpoint still fails before anything is written.
  r = import((kFixtures / "attentivechrome_bad_shape.pt").string(), "taken", " --force");
  CHECK(r.code == 2);
  CHECK(slurp(kWork / "taken" / "mine.txt") == "keep me\n");
  r = import(good, "taken", " --force");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  CHECK_FALSE(fs::exists(kWork / "taken" / "mine.txt"));
  CHECK(fs::exists(kWork / "taken" / "model.safetensors"));
  CHECK(fs::exists(kWork / "taken" / "config.json"));
  check_untouched("no_such_run");
  for (const auto& e : fs::directory_iterator(kWork)) CHECK_FALSE(has(e.path().filename().string(), ".old-"));
}
