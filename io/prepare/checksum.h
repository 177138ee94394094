// The size and CRC-32 (zlib's, the one gzip uses) of an input file, recorded in
// prepare.json so a prepared folder says exactly which files it came from.
#pragma once

#include <cstdint>
#include <string>

namespace dc::io::prepare {

struct FileDigest {
  uint64_t size = 0;
  uint32_t crc32 = 0;
  std::string crc32_hex() const;  // 8 lowercase hex digits
};

// Reads the whole file. A file that cannot be opened or read is a dc::InputError.
FileDigest file_digest(const std::string& path);

}  // namespace dc::io::prepare
