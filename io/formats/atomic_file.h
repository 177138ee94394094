// Whole-file reads and crash-safe writes.
//
// Every file the program writes (data, caches, checkpoints, reports) goes through a temp
// file in the destination's directory that is fsync'ed and then rename()d over the target,
// so a reader sees either the old file or the complete new one, never a torn write.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dc::io {

// Writes `content` to `path` atomically: a temp file in the same directory
// (path + ".tmp.<pid>.<seq>"), flushed (fsync), then rename(). On any failure the temp is
// removed and dc::OutputError names the path and the system's reason; an existing file at
// `path` is left untouched.
void write_file_atomic(const std::string& path, std::string_view content);

// Removes the temp files that writers killed mid-write (kill -9, power loss) left in `dir`
// (not its subfolders): entries named "<name>.tmp.<pid>.<seq>". Call it only while no other
// writer can be at work there (e.g. under a lock). Returns how many it removed.
int remove_stale_temp_files(const std::string& dir);

// Streaming variant for large outputs: write() pieces, then commit(). Destroying the
// writer without commit() removes the temp file and leaves `path` as it was.
// Throws dc::OutputError (naming the path and the reason) when the temp file cannot be
// created or written (EFBIG under a file size limit: SIGXFSZ is ignored by the CLI).
class AtomicWriter {
 public:
  explicit AtomicWriter(std::string path);
  ~AtomicWriter();
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;

  void write(std::string_view piece);
  // Flushes, fsyncs and renames the temp file onto path(). Calling it twice is an error.
  void commit();
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  void flush_buffer();
  void fail(const char* what, int err);  // removes the temp, throws dc::Error

  std::string path_, temp_path_;
  std::string buffer_;  // small pieces are gathered here; flushed at 1 MiB
  int fd_ = -1;
  bool committed_ = false;
};

// The whole file. Throws dc::InputError "<path>: cannot open (No such file or directory)"
// when it cannot be opened, and "<path>: cannot read (...)" when reading fails.
std::string read_file(const std::string& path);

// What a cache needs to know that a file is unchanged, taken from the open file itself.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // modification time, nanoseconds since the epoch
  uint64_t inode = 0;    // an atomic rewrite (new file renamed over) always changes it
};
// read_file that also reports the file's size, mtime and inode (fstat of the descriptor read).
std::string read_file(const std::string& path, FileStamp* stamp);

// mkdir -p. Throws dc::OutputError naming `dir` on failure (including when a non-directory
// is in the way). An empty `dir` means the current directory and does nothing.
void ensure_directory(const std::string& dir);

}  // namespace dc::io
