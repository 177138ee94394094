// Stands in for alignments_htslib.cpp in builds without htslib (DEEPCHROME_HTSLIB=OFF, or
// AUTO where libhts-dev is not installed): `prepare` then stops with a message saying how
// to get a build that has it.
#include <string>

#include "kernels/base/error.h"
#include "io/prepare/reads.h"

namespace dc::io::prepare {

namespace {
[[noreturn]] void no_htslib() {
  throw InputError(
      "prepare: this deepchrome was built without htslib, which `prepare` needs to read BAM/CRAM/SAM files. "
      "Install it (apt-get install libhts-dev pkg-config, or scripts/install_deps.sh) and rebuild (scripts/build.sh; "
      "the CMake summary then says htslib ON)");
}
}  // namespace

std::string htslib_version() { return ""; }

void require_htslib() { no_htslib(); }

ReadFileInfo probe_alignments(const std::string&, ReadFormat, const CountOptions&) { no_htslib(); }

void count_alignments(const ReadFileInfo&, const CountOptions&, const std::unordered_map<std::string, int>&, BinCounter&,
                      ReadCounts&) {
  no_htslib();
}

}  // namespace dc::io::prepare
