#include "io/prepare/reads.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "kernels/base/error.h"
#include "io/prepare/text_lines.h"

namespace dc::io::prepare {

const char* format_name(ReadFormat f) {
  switch (f) {
    case ReadFormat::bam: return "bam";
    case ReadFormat::cram: return "cram";
    case ReadFormat::sam: return "sam";
    case ReadFormat::bed: return "bed";
  }
  return "?";
}

ReadFormat detect_read_format(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw InputError(path + ": cannot open (" + std::strerror(errno) + ")");
  unsigned char magic[4] = {0, 0, 0, 0};
  const size_t got = std::fread(magic, 1, 4, f);
  const int read_errno = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (read_errno) throw InputError(path + ": cannot read (" + std::strerror(read_errno) + ")");
  if (got == 0) throw InputError(path + ": empty file (expected reads: BAM, CRAM, SAM, BED or tagAlign)");
  if (got == 4 && std::memcmp(magic, "CRAM", 4) == 0) return ReadFormat::cram;
  if (got >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) {  // gzip or BGZF: BAM when it holds "BAM\1"
    gzFile gz = gzopen(path.c_str(), "rb");
    if (!gz) throw InputError(path + ": cannot open (" + std::strerror(errno) + ")");
    char head[4] = {0, 0, 0, 0};
    const int n = gzread(gz, head, 4);
    gzclose_r(gz);
    if (n == 4 && std::memcmp(head, "BAM\1", 4) == 0) return ReadFormat::bam;
    if (n <= 0) throw InputError(path + ": unreadable gzip data (truncated or corrupt?)");
  }
  // Text: SAM has a header ('@') or 11+ tab-separated fields with a numeric FLAG.
  TextLines lines(path);
  std::string_view line;
  std::vector<std::string_view> fields;
  while (lines.next(line)) {
    if (line.empty()) continue;
    if (line[0] == '@') return ReadFormat::sam;
    int64_t flag;
    if (split_tabs(line, fields) >= 11 && parse_int64(fields[1], flag)) return ReadFormat::sam;
    return ReadFormat::bed;
  }
  return ReadFormat::bed;
}

std::string chromosome_mismatch(const std::string& path, const std::vector<std::string>& file_chroms,
                                const std::unordered_map<std::string, int>& chrom_index) {
  std::vector<std::string> annotation(chrom_index.size());
  for (const auto& [name, id] : chrom_index) annotation[static_cast<size_t>(id)] = name;
  auto list = [](const std::vector<std::string>& names) {
    std::string out;
    for (size_t i = 0; i < names.size() && i < 5; ++i) out += (i ? ", " : "") + names[i];
    if (names.size() > 5) out += ", ...";
    return out;
  };
  auto has_chr = [](const std::vector<std::string>& names) {
    size_t n = 0;
    for (const auto& s : names) n += s.rfind("chr", 0) == 0;
    return n * 2 > names.size();
  };
  std::string hint;
  if (has_chr(annotation) && !has_chr(file_chroms))
    hint = "the annotation names chromosomes with a \"chr\" prefix and the reads without: rename the reads' chromosomes "
           "(for a BAM: samtools view -H FILE | sed 's/SN:/SN:chr/' > h.sam; samtools reheader h.sam FILE > fixed.bam) "
           "or use an annotation without the prefix";
  else if (!has_chr(annotation) && has_chr(file_chroms))
    hint = "the reads name chromosomes with a \"chr\" prefix and the annotation without: use an annotation with the "
           "prefix (e.g. GENCODE's GTF rather than Ensembl's) or rename the reads' chromosomes";
  else
    hint = "are the reads and the annotation from the same genome assembly and naming scheme?";
  return path + ": none of its chromosome names (" + list(file_chroms) +
         ") is a chromosome of the gene annotation (" + list(annotation) + "): " + hint;
}

ReadFileInfo probe_reads(const std::string& path, const CountOptions& options) {
  const ReadFormat format = detect_read_format(path);
  if (format == ReadFormat::bed) return {path, format, {}};
  return probe_alignments(path, format, options);
}

void count_reads(const ReadFileInfo& file, const CountOptions& options,
                 const std::unordered_map<std::string, int>& chrom_index, BinCounter& counter, ReadCounts& counts) {
  if (file.format == ReadFormat::bed)
    count_bed_reads(file.path, chrom_index, counter, counts);
  else
    count_alignments(file, options, chrom_index, counter, counts);
}

}  // namespace dc::io::prepare
