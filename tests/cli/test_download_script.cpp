// scripts/download_data.sh without the network: the verify/unpack half on small archives
// built here (the toy split as two cell types), a corrupt and a truncated archive, an
// archive missing a cell type, and an unreachable server. DEST must change only on success.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

const fs::path kWorkDir = fs::path(DC_BINARY_DIR) / "test_download_work";
const std::string kScript = std::string(DC_SOURCE_DIR) + "/scripts/download_data.sh";

struct Res {
  int code;
  std::string text;
};

Res shell(const std::string& cmd) {
  const std::string full = "cd '" + kWorkDir.string() + "' && " + cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text};
}

std::string contents(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool mentions(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// archive/<top>/<cell>/classification/{train,valid,test}.csv from the toy split.
void stage_cell(const fs::path& root, const std::string& cell) {
  const fs::path dir = root / "data" / cell / "classification";
  fs::create_directories(dir);
  for (const char* split : {"train", "valid", "test"})
    fs::copy_file(fs::path(DC_TEST_DATA_DIR) / "toy" / (std::string(split) + ".csv"), dir / (std::string(split) + ".csv"),
                  fs::copy_options::overwrite_existing);
}

std::string md5_of(const std::string& file) {
  const Res r = shell("md5sum < " + file + " | cut -d' ' -f1");
  REQUIRE(r.code == 0);
  return r.text.substr(0, 32);
}

}  // namespace

TEST_CASE("download_data.sh verifies and unpacks an archive, and leaves DEST alone when it is bad") {
  fs::remove_all(kWorkDir);
  fs::create_directories(kWorkDir);
  stage_cell(kWorkDir / "good", "E003");
  stage_cell(kWorkDir / "good", "E004");
  REQUIRE(shell("tar -czf good.tar.gz -C good data").code == 0);
  const std::string md5 = md5_of("good.tar.gz");

  SUBCASE("a good archive is unpacked to DEST/<cell>/classification") {
    const Res r = shell(kScript + " --archive good.tar.gz --md5 " + md5 + " --cells E003,E004 dest");
    REQUIRE_MESSAGE(r.code == 0, r.text);
    for (const char* cell : {"E003", "E004"})
      for (const char* split : {"train", "valid", "test"})
        CHECK(contents(kWorkDir / "dest" / cell / "classification" / (std::string(split) + ".csv")) ==
              contents(fs::path(DC_TEST_DATA_DIR) / "toy" / (std::string(split) + ".csv")));
    CHECK(!fs::exists(kWorkDir / "dest/.download"));
    CHECK(fs::exists(kWorkDir / "good.tar.gz"));  // a user's own archive is not deleted
    // Run again: already complete.
    const Res again = shell(kScript + " --archive good.tar.gz --cells E003,E004 dest");
    CHECK(again.code == 0);
    CHECK(mentions(again.text, "nothing to do"));
  }
  SUBCASE("a checksum mismatch is refused") {
    const Res r = shell(kScript + " --archive good.tar.gz --md5 00000000000000000000000000000000 --cells E003,E004 dest");
    CHECK(r.code == 1);
    CHECK(mentions(r.text, "MD5"));
    CHECK(!fs::exists(kWorkDir / "dest/E003"));
  }
  SUBCASE("a truncated archive (an interrupted download) is refused") {
    const std::string data = contents(kWorkDir / "good.tar.gz");
    std::ofstream(kWorkDir / "cut.tar.gz", std::ios::binary) << data.substr(0, data.size() / 2);
    const Res r = shell(kScript + " --archive cut.tar.gz --cells E003,E004 dest");
    CHECK(r.code == 1);
    CHECK(mentions(r.text, "incomplete or corrupt"));
    CHECK(!fs::exists(kWorkDir / "dest/E003"));
  }
  SUBCASE("an archive without one of the cell types is refused, naming it") {
    stage_cell(kWorkDir / "part", "E003");
    REQUIRE(shell("tar -czf part.tar.gz -C part data").code == 0);
    const Res r = shell(kScript + " --archive part.tar.gz --cells E003,E004 dest");
    CHECK(r.code == 1);
    CHECK(mentions(r.text, "no data for 1 of the 2 cell types (E004)"));
    CHECK(!fs::exists(kWorkDir / "dest/E003"));
  }
  SUBCASE("a cell type with a partial gene is refused") {
    stage_cell(kWorkDir / "odd", "E003");
    stage_cell(kWorkDir / "odd", "E004");
    std::ofstream(kWorkDir / "odd/data/E004/classification/valid.csv", std::ios::app) << "000999,1,0,0,0,0,0,1\n";
    REQUIRE(shell("tar -czf odd.tar.gz -C odd data").code == 0);
    const Res r = shell(kScript + " --archive odd.tar.gz --cells E003,E004 dest");
    CHECK(r.code == 1);
    CHECK(mentions(r.text, "E004/classification/valid.csv"));
    CHECK(mentions(r.text, "not whole genes"));
  }
  SUBCASE("offline: a clear message, nothing in DEST") {
    const Res r = shell(kScript + " --url http://127.0.0.1:9/data.tar.gz --cells E003 dest");
    CHECK(r.code == 1);
    CHECK(mentions(r.text, "download"));
    CHECK(mentions(r.text, "offline"));
    CHECK(!fs::exists(kWorkDir / "dest/E003"));
  }
  SUBCASE("bad usage exits 2") {
    CHECK(shell(kScript).code == 2);
    CHECK(shell(kScript + " --frobnicate dest").code == 2);
  }
}
