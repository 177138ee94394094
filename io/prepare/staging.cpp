#include "io/prepare/staging.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "kernels/base/error.h"

namespace fs = std::filesystem;

namespace dc::io::prepare {

namespace {

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

OutputStage::OutputStage(std::string out) : out_(std::move(out)) {
  if (out_.empty()) out_.push_back('.');
  // Create --out and its missing parents one by one, remembering which, for the cleanup.
  std::vector<fs::path> missing;
  std::error_code ec;
  for (fs::path p = fs::path(out_).lexically_normal(); !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (!fs::create_directory(*it, ec) && ec) {
      remove_created();
      throw Error("prepare: cannot create " + it->string() + " (" + ec.message() + ")");
    }
    created_.push_back(it->string());
  }
  if (!fs::is_directory(out_, ec)) {
    remove_created();
    throw InputError("prepare: --out " + out_ + " is not a folder");
  }
  std::string stage_name = ".prepare.tmp.";
  stage_name += std::to_string(::getpid());
  stage_ = (fs::path(out_) / stage_name).string();
  fs::remove_all(stage_, ec);
  if (!fs::create_directory(stage_, ec)) {
    remove_created();
    throw Error("prepare: cannot create " + stage_ + " (" + ec.message() + ")");
  }
}

OutputStage::~OutputStage() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(stage_, ec);
  remove_created();
}

void OutputStage::remove_created() {
  std::error_code ec;
  for (auto it = created_.rbegin(); it != created_.rend(); ++it)
    if (!fs::remove(*it, ec)) break;  // only while empty: stops at the first folder holding anything
  created_.clear();
}

std::string OutputStage::cell_dir(const std::string& cell) {
  const std::string dir = (fs::path(stage_) / cell).string();
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (!fs::create_directory(dir, ec)) throw Error("prepare: cannot create " + dir + " (" + ec.message() + ")");
  cells_.push_back(cell);
  return dir;
}

void OutputStage::commit() {
  if (committed_) throw Error("prepare: output committed twice");
  for (const std::string& cell : cells_) {
    const fs::path target = fs::path(out_) / cell, staged = fs::path(stage_) / cell;
    const fs::path old = fs::path(stage_) / (".old." + cell);
    std::error_code ec;
    if (fs::exists(target, ec)) {
      fs::rename(target, old, ec);
      if (ec) throw Error("prepare: cannot move the existing " + target.string() + " aside (" + ec.message() + ")");
    }
    fs::rename(staged, target, ec);
    if (ec) {
      std::error_code ignored;
      if (fs::exists(old, ignored)) fs::rename(old, target, ignored);  // put the previous folder back
      throw Error("prepare: cannot move " + staged.string() + " to " + target.string() + " (" + ec.message() + ")");
    }
  }
  sync_directory(out_);
  committed_ = true;
  std::error_code ec;
  fs::remove_all(stage_, ec);  // the replaced folders, if any
}

}  // namespace dc::io::prepare
