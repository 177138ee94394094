#include "io/prepare/checksum.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "kernels/base/error.h"

namespace dc::io::prepare {

std::string FileDigest::crc32_hex() const {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", crc32);
  return text;
}

FileDigest file_digest(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(path + ": cannot open (" + std::strerror(errno) + ")");
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::vector<unsigned char> buffer(size_t{4} << 20);
  FileDigest d;
  uLong crc = crc32_z(0L, Z_NULL, 0);
  while (true) {
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw InputError(path + ": cannot read (" + std::strerror(err) + ")");
    }
    if (got == 0) break;
    crc = crc32_z(crc, buffer.data(), static_cast<size_t>(got));
    d.size += static_cast<uint64_t>(got);
  }
  ::close(fd);
  d.crc32 = static_cast<uint32_t>(crc);
  return d;
}

}  // namespace dc::io::prepare
