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

#include "command_util.h"

namespace fs = std::filesystem;

using namespace dc::test::command;

namespace {

const fs::path kWorkDir = fs::path(DC_BINARY_DIR) / "test_download_work";
const std::string kScript = std::string(DC_SOURCE_DIR) + "/scripts/download_data.sh";

Result shell(const std::string& cmd) { return sh_in(kWorkDir, cmd); }

// archive/<top>/<cell>/classification/{train,valid,test}.csv from the toy split.
void stage_cell(const fs::path& root, const std::string& cell) {
  const fs::path dir = root / "data" / cell / "classification";
  fs::create_directories(dir);
  for (const char* split : {"train", "valid", "test"})
    fs::copy_file(fs::path(DC_TEST_DATA_DIR) / "toy" / (std::string(split) + ".csv"), dir / (std::string(split) + ".csv"),
                  fs::copy_options::overwrite_existing);
}

std::string md5_of(const std::string& file) {
  const Result r = shell("md5sum < " + file + " | cut -d' ' -f1");
  REQUIRE(r.code == 0);
  return r.out.substr(0, 32);
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
    const Result r = shell(kScript + " --archive good.tar.gz --md5 " + md5 + " --cells E003,E004 dest");
    REQUIRE_MESSAGE(r.code == 0, r.out);
    for (const char* cell : {"E003", "E004"})
      for (const char* split : {"train", "valid", "test"})
        CHECK(slurp(kWorkDir / "dest" / cell / "classification" / (std::string(split) + ".csv")) ==
              slurp(fs::path(DC_TEST_DATA_DIR) / "toy" / (std::string(split) + ".csv")));
    CHECK(!fs::exists(kWorkDir / "dest/.download"));
    CHECK(fs::exists(kWorkDir / "good.tar.gz"));  // a user's own archive is not deleted
    // Run again: already complete.
    const Result again = shell(kScript + " --archive good.tar.gz --cells E003,E004 dest");
    CHECK(again.code == 0);
    CHECK(has(again.out, "nothing to do"));
  }
  SUBCASE("a checksum mismatch is refused") {
    const Result r = shell(kScript + " --archive good.tar.gz --md5 00000000000000000000000000000000 --cells E003,E004 dest");
    CHECK(r.code == 1);
    CHECK(has(r.out, "MD5"));
    CHECK(!fs::exists(kWorkDir / "dest/E003"));
  }
  SUBCASE("a truncated archive (an interrupted download) is refused") {
    const std::string data = slurp(kWorkDir / "good.tar.gz");
    std::ofstream(kWorkDir / "cut.tar.gz", std::ios::binary) << data.substr(0, data.size() / 2);
    const Result r = shell(kScript + " --archive cut.tar.gz --cells E003,E004 dest");
    CHECK(r.code == 1);
    CHECK(has(r.out, "incomplete or corrupt"));
    CHECK(!fs::exists(kWorkDir / "dest/E003"));
  }
  SUBCASE("an archive without one of the cell types is refused, naming it") {
    stage_cell(kWorkDir / "part", "E003");
    REQUIRE(shell("tar -czf part.tar.gz -C part data").code == 0);
    const Result r = shell(kScript + " --archive part.tar.gz --cells E003,E004 dest");
    CHECK(r.code == 1);
    CHECK(has(r.out, "no data for 1 of the 2 cell types (E004)"));
    CHECK(!fs::exists(kWorkDir / "dest/E003"));
  }
  SUBCASE("a cell type with a partial gene is refused") {
    stage_cell(kWorkDir / "odd", "E003");
    stage_cell(kWorkDir / "odd", "E004");
    std::ofstream(kWorkDir / "odd/data/E004/classification/valid.csv", std::ios::app) << "000999,1,0,0,0,0,0,1\n";
    REQUIRE(shell("tar -czf odd.tar.gz -C odd data").code == 0);
    const Result r = shell(kScript + " --archive odd.tar.gz --cells E003,E004 dest");
    CHECK(r.code == 1);
    CHECK(has(r.out, "E004/classification/valid.csv"));
    CHECK(has(r.out, "not whole genes"));
  }
  SUBCASE("offline: a clear message, nothing in DEST") {
    const Result r = shell(kScript + " --url http://127.0.0.1:9/data.tar.gz --cells E003 dest");
    CHECK(r.code == 1);
    CHECK(has(r.out, "download"));
    CHECK(has(r.out, "offline"));
    CHECK(!fs::exists(kWorkDir / "dest/E003"));
  }
  SUBCASE("bad usage exits 2") {
    CHECK(shell(kScript).code == 2);
    CHECK(shell(kScript + " --frobnicate dest").code == 2);
  }
}
