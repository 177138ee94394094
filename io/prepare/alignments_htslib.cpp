// BAM, CRAM and SAM reads through htslib (Debian libhts-dev): one pass per file, BGZF
// and CRAM decompression on an htslib thread pool, every record filtered and counted as
// `bedtools multicov` does by default (see reads.h). CMake compiles this file when htslib
// is found, alignments_no_htslib.cpp otherwise.
#include <htslib/bgzf.h>
#include <htslib/hts.h>
#include <htslib/hts_log.h>
#include <htslib/sam.h>
#include <htslib/thread_pool.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "kernels/base/error.h"
#include "io/prepare/reads.h"

namespace dc::io::prepare {

namespace {

struct FileCloser {
  void operator()(samFile* f) const { hts_close(f); }
};
struct HeaderFree {
  void operator()(sam_hdr_t* h) const { sam_hdr_destroy(h); }
};
struct RecordFree {
  void operator()(bam1_t* b) const { bam_destroy1(b); }
};
struct PoolFree {
  void operator()(hts_tpool* p) const { hts_tpool_destroy(p); }
};

struct OpenFile {
  std::unique_ptr<samFile, FileCloser> file;
  std::unique_ptr<sam_hdr_t, HeaderFree> header;
};

// Opens `path`, checks the end-of-file marker (BAM/CRAM: a file cut at a block boundary
// would otherwise read as shorter but valid) and reads the header.
OpenFile open_alignments(const std::string& path, ReadFormat format, const CountOptions& options) {
  hts_set_log_level(HTS_LOG_OFF);  // failures become our own messages, naming the file
  OpenFile f;
  errno = 0;
  f.file.reset(hts_open(path.c_str(), "r"));
  if (!f.file) throw InputError(path + ": cannot open (" + (errno ? std::strerror(errno) : "not a BAM, CRAM or SAM file") + ")");
  if (format == ReadFormat::cram) {
    // Counting needs positions, flags, MAPQ and CIGAR only: no sequence, so no reference.
    hts_set_opt(f.file.get(), CRAM_OPT_REQUIRED_FIELDS, SAM_FLAG | SAM_RNAME | SAM_POS | SAM_MAPQ | SAM_CIGAR);
    hts_set_opt(f.file.get(), CRAM_OPT_DECODE_MD, 0);
    if (!options.reference.empty() && hts_set_fai_filename(f.file.get(), options.reference.c_str()) != 0)
      throw InputError(options.reference + ": cannot use as the CRAM reference (a FASTA file, indexed or indexable)");
  }
  if (hts_check_EOF(f.file.get()) == 0)  // 0: a BGZF or CRAM file without its marker; 3: plain SAM
    throw InputError(path + ": truncated " + format_name(format) + " file (its end-of-file marker is missing)");
  f.header.reset(sam_hdr_read(f.file.get()));
  if (!f.header)
    throw InputError(path + ": cannot read the " + format_name(format) + " header (truncated or corrupt file?)");
  return f;
}

}  // namespace

std::string htslib_version() { return hts_version(); }

void require_htslib() {}

ReadFileInfo probe_alignments(const std::string& path, ReadFormat format, const CountOptions& options) {
  OpenFile f = open_alignments(path, format, options);
  ReadFileInfo info{path, format, {}};
  const int n = sam_hdr_nref(f.header.get());
  for (int tid = 0; tid < n; ++tid)
    info.references.emplace_back(sam_hdr_tid2name(f.header.get(), tid), sam_hdr_tid2len(f.header.get(), tid));
  return info;
}

void count_alignments(const ReadFileInfo& info, const CountOptions& options,
                      const std::unordered_map<std::string, int>& chrom_index, BinCounter& counter, ReadCounts& counts) {
  // The pool outlives the file (declared first, destroyed last). The header is read and
  // the end-of-file marker checked before the pool is attached: htslib 1.16 can deadlock
  // in those with a pool on a corrupt file.
  std::unique_ptr<hts_tpool, PoolFree> pool;
  if (options.threads > 0) {
    pool.reset(hts_tpool_init(options.threads));
    if (!pool) throw Error("prepare: cannot start " + std::to_string(options.threads) + " htslib threads");
  }
  OpenFile f = open_alignments(info.path, info.format, options);
  if (pool && info.format != ReadFormat::sam) {  // SAM stays on this thread: errors then name their line
    htsThreadPool shared = {pool.get(), 0};
    if (hts_set_opt(f.file.get(), HTS_OPT_THREAD_POOL, &shared) != 0)
      throw Error(info.path + ": cannot attach the htslib thread pool");
  }
  // Header reference id -> counter chromosome (-1: no kept gene there).
  const int n = sam_hdr_nref(f.header.get());
  std::vector<int> chrom_of(static_cast<size_t>(n), -1);
  for (int tid = 0; tid < n; ++tid) {
    const auto it = chrom_index.find(sam_hdr_tid2name(f.header.get(), tid));
    if (it != chrom_index.end() && counter.has_windows(it->second)) chrom_of[tid] = it->second;
  }
  std::unique_ptr<bam1_t, RecordFree> record(bam_init1());
  if (!record) throw Error("prepare: out of memory");
  bam1_t* b = record.get();
  const int min_mapq = options.min_mapq;
  int r;
  while ((r = sam_read1(f.file.get(), f.header.get(), b)) >= 0) {
    ++counts.records;
    const uint16_t flag = b->core.flag;
    if ((flag & BAM_FUNMAP) || b->core.tid < 0) {
      ++counts.unmapped;
    } else if (flag & BAM_FDUP) {
      ++counts.duplicate;
    } else if (flag & BAM_FQCFAIL) {
      ++counts.qc_fail;
    } else if (b->core.qual < min_mapq) {
      ++counts.low_mapq;
    } else if (b->core.tid >= n || chrom_of[b->core.tid] < 0) {
      ++counts.other_chrom;
    } else {
      ++counts.used;
      const int64_t start = b->core.pos;
      const int64_t end = start + bam_cigar2rlen(static_cast<int>(b->core.n_cigar), bam_get_cigar(b));
      counts.in_bins += counter.add(chrom_of[b->core.tid], start, end);
    }
  }
  // With a thread pool, htslib 1.16 can report a broken BGZF block as a plain end of file
  // (-1): its error code, and hts_close's status, still tell.
  const BGZF* bgzf = f.file->is_bgzf ? f.file->fp.bgzf : nullptr;
  const bool failed = r < -1 || (bgzf && bgzf->errcode != 0);
  const int closed = hts_close(f.file.release());
  if (!failed && closed >= 0) return;
  if (info.format == ReadFormat::sam) {
    const char* text = sam_hdr_str(f.header.get());
    size_t header_lines = 0;
    for (const char* c = text; c && *c; ++c) header_lines += *c == '\n';
    throw InputError(info.path + ":" + std::to_string(header_lines + counts.records + 1) +
                     ": malformed SAM record (or one naming a reference missing from the @SQ header lines)");
  }
  throw InputError(info.path + ": truncated or corrupt " + format_name(info.format) +
                   " file: a compressed block is damaged or cut short" +
                   (info.format == ReadFormat::cram ? " (or this CRAM needs its reference: give --reference FASTA)" : ""));
}

}  // namespace dc::io::prepare
