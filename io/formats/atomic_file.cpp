#include "io/formats/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "kernels/base/error.h"

namespace dc::io {

namespace {

constexpr size_t kBufferLimit = size_t{1} << 20;

std::string errno_text(int err) { return std::strerror(err); }

// Writes all of [data, data+size) to fd, retrying on EINTR and short writes.
// Returns 0 or the errno of the failure.
int write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t w = ::write(fd, data, size);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += w;
    size -= static_cast<size_t>(w);
  }
  return 0;
}

std::string temp_name(const std::string& path) {
  // The sequence number keeps two writers of one path in one process apart.
  static std::atomic<unsigned> sequence{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(sequence.fetch_add(1));
}

// Whether `name` ends in ".tmp.<digits>.<digits>", as temp_name() makes them.
bool is_temp_name(const std::string& name) {
  const size_t dot2 = name.rfind('.');
  if (dot2 == std::string::npos || dot2 + 1 == name.size()) return false;
  const size_t dot1 = name.rfind('.', dot2 - 1);
  if (dot1 == std::string::npos || dot1 + 1 == dot2 || dot1 < 4) return false;
  auto digits = [&](size_t a, size_t b) { return name.find_first_not_of("0123456789", a) >= b; };
  return digits(dot1 + 1, dot2) && digits(dot2 + 1, name.size()) && name.compare(dot1 - 4, 4, ".tmp") == 0;
}

// Best effort: makes the rename itself durable. Failure here is not reported: the data
// is already safely in the file.
void sync_parent_directory(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

AtomicWriter::AtomicWriter(std::string path) : path_(std::move(path)), temp_path_(temp_name(path_)) {
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ < 0) throw OutputError("cannot write " + path_ + ": " + errno_text(errno));
  buffer_.reserve(kBufferLimit);
}

AtomicWriter::~AtomicWriter() {
  if (committed_) return;
  if (fd_ >= 0) ::close(fd_);
  ::unlink(temp_path_.c_str());
}

void AtomicWriter::fail(const char* what, int err) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(temp_path_.c_str());
  committed_ = true;  // nothing left for the destructor to do
  throw OutputError(std::string("cannot write ") + path_ + ": " + what + " (" + errno_text(err) + ")");
}

void AtomicWriter::flush_buffer() {
  if (buffer_.empty()) return;
  if (const int err = write_all(fd_, buffer_.data(), buffer_.size())) fail("write failed", err);
  buffer_.clear();
}

void AtomicWriter::write(std::string_view piece) {
  if (fd_ < 0) throw Error("cannot write " + path_ + ": writer already committed or failed");
  if (buffer_.size() + piece.size() <= kBufferLimit) {
    buffer_.append(piece);
    return;
  }
  flush_buffer();
  if (piece.size() >= kBufferLimit) {
    if (const int err = write_all(fd_, piece.data(), piece.size())) fail("write failed", err);
  } else {
    buffer_.append(piece);
  }
}

void AtomicWriter::commit() {
  if (fd_ < 0) throw Error("cannot write " + path_ + ": writer already committed or failed");
  flush_buffer();
  if (::fsync(fd_) != 0) fail("fsync failed", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp_path_.c_str());
    committed_ = true;
    throw OutputError("cannot write " + path_ + ": close failed (" + errno_text(err) + ")");
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp_path_.c_str());
    committed_ = true;
    throw OutputError("cannot write " + path_ + ": rename failed (" + errno_text(err) + ")");
  }
  committed_ = true;
  sync_parent_directory(path_);
}

void write_file_atomic(const std::string& path, std::string_view content) {
  AtomicWriter writer(path);
  writer.write(content);
  writer.commit();
}

std::string read_file(const std::string& path, FileStamp* stamp) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(path + ": cannot open (" + errno_text(errno) + ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw InputError(path + ": cannot read (" + errno_text(err) + ")");
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw InputError(path + ": cannot read (Is a directory)");
  }
  if (stamp) {
    stamp->size = static_cast<uint64_t>(st.st_size);
    stamp->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    stamp->inode = static_cast<uint64_t>(st.st_ino);
  }
  // Read exactly the size fstat reported, then probe for more (the file may be growing or
  // not be a regular file): no doubling of a large buffer just to detect EOF.
  std::string content(S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) : 0, '\0');
  size_t used = 0;
  char probe[4096];
  for (;;) {
    char* dst = used < content.size() ? content.data() + used : probe;
    const size_t room = used < content.size() ? content.size() - used : sizeof probe;
    const ssize_t r = ::read(fd, dst, room);
    if (r < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw InputError(path + ": cannot read (" + errno_text(err) + ")");
    }
    if (r == 0) break;
    if (dst == probe) {
      content.resize(used);
      content.append(probe, static_cast<size_t>(r));
    }
    used += static_cast<size_t>(r);
  }
  ::close(fd);
  content.resize(used);
  return content;
}

std::string read_file(const std::string& path) { return read_file(path, nullptr); }

void ensure_directory(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw OutputError("cannot create directory " + dir + ": " + ec.message());
  if (!std::filesystem::is_directory(dir, ec))
    throw OutputError("cannot create directory " + dir + ": a file of that name is in the way");
}

int remove_stale_temp_files(const std::string& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec) || !is_temp_name(e.path().filename().string())) continue;
    if (std::filesystem::remove(e.path(), ec)) ++removed;
  }
  return removed;
}

}  // namespace dc::io
