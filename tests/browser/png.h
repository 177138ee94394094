// A minimal PNG reader for screenshots (8-bit RGB or RGBA, not interlaced, the form headless
// Chromium writes): chunks, zlib inflate, and the five scanline filters.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace dc::test::png {

struct Image {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3
  std::string error;         // empty when decoded
};

inline uint32_t be32(const std::string& s, size_t i) {
  return (uint32_t(uint8_t(s[i])) << 24) | (uint32_t(uint8_t(s[i + 1])) << 16) | (uint32_t(uint8_t(s[i + 2])) << 8) |
         uint32_t(uint8_t(s[i + 3]));
}

inline Image decode(const std::string& file) {
  Image img;
  if (file.size() < 33 || file.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) {
    img.error = "not a PNG file";
    return img;
  }
  std::string idat;
  int colour_type = -1, channels = 0;
  for (size_t i = 8; i + 12 <= file.size();) {
    const uint32_t len = be32(file, i);
    const std::string type = file.substr(i + 4, 4);
    if (i + 12 + len > file.size()) {
      img.error = "truncated chunk " + type;
      return img;
    }
    if (type == "IHDR") {
      img.width = be32(file, i + 8);
      img.height = be32(file, i + 12);
      const int depth = uint8_t(file[i + 16]), interlace = uint8_t(file[i + 20]);
      colour_type = uint8_t(file[i + 17]);
      channels = colour_type == 2 ? 3 : colour_type == 6 ? 4 : 0;
      if (depth != 8 || channels == 0 || interlace != 0) {
        img.error = "unsupported PNG (depth " + std::to_string(depth) + ", colour type " + std::to_string(colour_type) + ")";
        return img;
      }
    } else if (type == "IDAT") {
      idat.append(file, i + 8, len);
    } else if (type == "IEND") {
      break;
    }
    i += 12 + len;
  }
  if (channels == 0 || img.width == 0 || img.height == 0) {
    img.error = "no image header";
    return img;
  }
  const size_t stride = size_t(img.width) * channels;
  std::vector<uint8_t> raw((stride + 1) * img.height);
  uLongf raw_len = raw.size();
  if (uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK || raw_len != raw.size()) {
    img.error = "image data does not inflate to " + std::to_string(raw.size()) + " bytes";
    return img;
  }
  std::vector<uint8_t> prev(stride, 0), cur(stride);
  img.rgb.resize(size_t(img.width) * img.height * 3);
  for (uint32_t y = 0; y < img.height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* line = &raw[y * (stride + 1) + 1];
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= size_t(channels) ? cur[x - channels] : 0, b = prev[x], c = x >= size_t(channels) ? prev[x - channels] : 0;
      int pred = 0;
      switch (filter) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) / 2; break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: img.error = "bad filter " + std::to_string(filter); return img;
      }
      cur[x] = uint8_t(line[x] + pred);
    }
    for (uint32_t x = 0; x < img.width; ++x)
      for (int k = 0; k < 3; ++k) img.rgb[(size_t(y) * img.width + x) * 3 + k] = cur[size_t(x) * channels + k];
    std::swap(prev, cur);
  }
  return img;
}

}  // namespace dc::test::png
