#include "bench/prepare_benchmark.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/machine.h"
#include "bench/timing.h"
#include "kernels/base/error.h"
#include "kernels/base/philox.h"
#include "io/formats/atomic_file.h"
#include "io/formats/dataset.h"

namespace fs = std::filesystem;

namespace dc::bench {
namespace {

using nlohmann::ordered_json;

const char* kHelp = R"(usage: deepchrome bench --only prepare [--reads N] [--genes N] [--threads N] [--bedtools-marks K]
                       [--tagalign] [--work DIR] [--out FILE]

Times `deepchrome prepare` on 5 marks x N reads of 36 bp (BAMs with sequences and
qualities, sorted and indexed, 30% of the reads within 5 kb of a TSS) over a human-sized
annotation (19,802 genes on hg19's chromosomes), and `bedtools multicov` on the same BAMs
and bins in the same run; checks that both give the same counts; prints JSON: seconds per
mark and for all five, reads/s, CPU seconds, peak RSS (of each tool's own process), and the
speed-up. Prepare also runs on a tenth of the reads, to show its memory does not grow with
the reads. Needs samtools and bedtools on PATH and the deepchrome executable beside this one.

  --reads N           reads per mark (default 20000000)
  --genes N           genes in the annotation (default 19802)
  --threads N         prepare's --threads (default: all cores)
  --bedtools-marks K  marks bedtools counts (default 1: about half an hour per mark at 20 M reads on
                      2 cores; 0 skips it)
  --tagalign          also write the reads as tagAlign.gz and time prepare on those
  --work DIR          where the inputs go (default $TMPDIR/deepchrome-bench-prepare); inputs
                      already there from a run with the same --reads/--genes are reused. They
                      stay there (2.8 GB of BAM at the default size, 1.2 GB more with
                      --tagalign): remove the folder when done
  --out FILE          also write the JSON to FILE
)";

struct Chrom {
  const char* name;
  int64_t length;
};
// hg19 (GRCh37) chromosome lengths.
constexpr Chrom kHg19[] = {
    {"chr1", 249250621}, {"chr2", 243199373}, {"chr3", 198022430}, {"chr4", 191154276}, {"chr5", 180915260},
    {"chr6", 171115067}, {"chr7", 159138663}, {"chr8", 146364022}, {"chr9", 141213431}, {"chr10", 135534747},
    {"chr11", 135006516}, {"chr12", 133851895}, {"chr13", 115169878}, {"chr14", 107349540}, {"chr15", 102531392},
    {"chr16", 90354753}, {"chr17", 81195210}, {"chr18", 78077248}, {"chr19", 59128983}, {"chr20", 63025520},
    {"chr21", 48129895}, {"chr22", 51304566}, {"chrX", 155270560}, {"chrY", 59373566}};
constexpr int kChroms = static_cast<int>(sizeof kHg19 / sizeof kHg19[0]);
constexpr int kReadLength = 36;

struct BenchGene {
  int chrom;
  bool minus;
  int64_t tss;  // 1-based
};

// A child process's wall time, CPU time and peak RSS (wait4), its stdout kept in a file.
struct ChildRun {
  int exit_code = -1;
  double seconds = 0, cpu_s = 0, peak_rss_mb = 0;
};

ChildRun run_child(const std::vector<std::string>& argv, const std::string& stdout_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  const auto t0 = Clock::now();
  const pid_t pid = fork();
  if (pid < 0) throw Error("bench prepare: fork failed");
  if (pid == 0) {
    const int fd = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      close(fd);
    }
    execvp(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  std::memset(&ru, 0, sizeof ru);
  if (wait4(pid, &status, 0, &ru) < 0) throw Error("bench prepare: wait4 failed");
  ChildRun r;
  r.seconds = since(t0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
            static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
  r.peak_rss_mb = static_cast<double>(ru.ru_maxrss) / 1024.0;  // KiB -> MiB
  return r;
}

void must_run(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) throw Error("bench prepare: command failed: " + cmd);
}

std::string command_output(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  std::string out;
  char buf[256];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// Genes spread over the chromosomes by length, windows inside their chromosome.
std::vector<BenchGene> make_genes(int n, uint64_t seed) {
  int64_t genome = 0;
  for (const Chrom& c : kHg19) genome += c.length;
  std::vector<BenchGene> genes;
  CounterRng rng(seed, 11);
  for (int c = 0; c < kChroms; ++c) {
    const int count = c + 1 == kChroms ? n - static_cast<int>(genes.size())
                                       : static_cast<int>(static_cast<double>(n) * kHg19[c].length / genome);
    for (int i = 0; i < count; ++i) {
      const bool minus = rng.uniform() < 0.5;
      const int64_t tss = 10001 + static_cast<int64_t>(rng.below(static_cast<uint64_t>(kHg19[c].length - 20002)));
      genes.push_back({c, minus, tss});
    }
  }
  // Annotation order: by chromosome, then position (as GENCODE files mostly are).
  std::sort(genes.begin(), genes.end(),
            [](const BenchGene& a, const BenchGene& b) { return a.chrom != b.chrom ? a.chrom < b.chrom : a.tss < b.tss; });
  return genes;
}

// m0.bam .. m4.bam: the marks' BAMs in io::kMarkNames order.
std::string bam_name(int mark) {
  char name[16];
  std::snprintf(name, sizeof name, "m%d.bam", mark);
  return name;
}

std::string gene_id(size_t g) {
  char id[32];
  std::snprintf(id, sizeof id, "ENSGB%010zu", g + 1);
  return id;
}

void write_annotation(const fs::path& dir, const std::vector<BenchGene>& genes, uint64_t seed) {
  std::string gtf, expr = "gene_id\tBENCH\n", bed;
  CounterRng rng(seed, 12);
  for (size_t g = 0; g < genes.size(); ++g) {
    const BenchGene& x = genes[g];
    const int64_t start = x.minus ? x.tss - 5000 : x.tss, end = x.minus ? x.tss : x.tss + 5000;
    gtf += std::string(kHg19[x.chrom].name) + "\tBENCH\tgene\t" + std::to_string(start) + "\t" + std::to_string(end) +
           "\t.\t" + (x.minus ? "-" : "+") + "\t.\tgene_id \"" + gene_id(g) + ".1\"; gene_type \"protein_coding\";\n";
    char value[32];
    std::snprintf(value, sizeof value, "%.3f", std::exp(3.0 * rng.normal()));
    expr += gene_id(g) + "\t" + value + "\n";
    // The bins of the issue's formula (1-based inclusive), as BED for bedtools.
    for (int i = 1; i <= 100; ++i) {
      const int64_t lo = x.minus ? x.tss + 5000 - i * 100 + 1 : x.tss - 5000 + (i - 1) * 100;
      bed += std::string(kHg19[x.chrom].name) + "\t" + std::to_string(lo - 1) + "\t" + std::to_string(lo + 99) + "\t" +
             gene_id(g) + ":" + std::to_string(i) + "\n";
    }
  }
  io::write_file_atomic((dir / "genes.gtf").string(), gtf);
  io::write_file_atomic((dir / "expression.tsv").string(), expr);
  io::write_file_atomic((dir / "bins.bed").string(), bed);
}

// One mark's reads: `reads` reads of 36 bp, 30% within 5 kb of a TSS, the rest anywhere,
// as sorted keys chrom << 32 | 0-based position.
std::vector<uint64_t> read_keys(int64_t reads, const std::vector<BenchGene>& genes, uint64_t seed) {
  std::vector<int64_t> offset(kChroms + 1, 0);
  for (int c = 0; c < kChroms; ++c) offset[c + 1] = offset[c] + kHg19[c].length;
  std::vector<uint64_t> keys(static_cast<size_t>(reads));
  CounterRng rng(seed, 13);
  for (auto& k : keys) {
    int c;
    int64_t pos;
    if (rng.uniform() < 0.3) {
      const BenchGene& g = genes[rng.below(genes.size())];
      c = g.chrom;
      pos = g.tss - 5000 + static_cast<int64_t>(rng.below(10000)) - kReadLength / 2;
    } else {
      const int64_t at = static_cast<int64_t>(rng.below(static_cast<uint64_t>(offset[kChroms])));
      c = static_cast<int>(std::upper_bound(offset.begin(), offset.end(), at) - offset.begin()) - 1;
      pos = at - offset[c];
    }
    pos = std::clamp<int64_t>(pos, 0, kHg19[c].length - kReadLength);
    k = (static_cast<uint64_t>(c) << 32) | static_cast<uint64_t>(pos);
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

// The reads as a BAM with sequences and qualities, 3% flagged duplicate, half reversed,
// 10% with MAPQ < 10: SAM text piped through samtools, then indexed.
void write_bam(const fs::path& path, const std::vector<uint64_t>& keys, uint64_t seed, int threads) {
  const std::string cmd = "samtools view -@ " + std::to_string(threads) + " -b -o '" + path.string() + "' -";
  FILE* pipe = popen(cmd.c_str(), "w");
  if (!pipe) throw Error("bench prepare: cannot run samtools");
  std::string text = "@HD\tVN:1.6\tSO:coordinate\n";
  for (const Chrom& c : kHg19) text += std::string("@SQ\tSN:") + c.name + "\tLN:" + std::to_string(c.length) + "\n";
  const char* quals = "FFFFFFFF:F,";  // binned Illumina qualities, mostly F
  for (size_t i = 0; i < keys.size(); ++i) {
    const int c = static_cast<int>(keys[i] >> 32);
    const int64_t pos = static_cast<int64_t>(keys[i] & 0xffffffffu);
    const uint32_t bits = random_bits(seed, 14, i);
    const int flag = ((bits & 1) ? 16 : 0) | ((bits >> 1) % 100 < 3 ? 1024 : 0);
    const int mapq = (bits >> 8) % 10 == 0 ? static_cast<int>((bits >> 12) % 10) : 42;
    char line[256];
    int n = std::snprintf(line, sizeof line, "B%zu\t%d\t%s\t%lld\t%d\t36M\t*\t0\t0\t", i, flag, kHg19[c].name,
                          static_cast<long long>(pos + 1), mapq);
    // 2 random bits per base: 16 bases per word (a shift by 32 or more would be undefined).
    const uint32_t b2 = random_bits(seed, 15, i), b3 = random_bits(seed, 16, i), b4 = random_bits(seed, 17, i),
                   b5 = random_bits(seed, 18, i);
    static_assert(kReadLength <= 48);
    for (int j = 0; j < kReadLength; ++j) {
      const uint32_t word = j < 16 ? b2 : j < 32 ? b3 : b5;
      line[n++] = "ACGT"[(word >> (2 * (j % 16))) & 3];
    }
    line[n++] = '\t';
    for (int j = 0; j < kReadLength; ++j) line[n++] = quals[(b4 >> (j % 28)) % 11];
    line[n++] = '\n';
    text.append(line, static_cast<size_t>(n));
    if (text.size() > (8u << 20)) {
      if (std::fwrite(text.data(), 1, text.size(), pipe) != text.size()) break;
      text.clear();
    }
  }
  std::fwrite(text.data(), 1, text.size(), pipe);
  if (pclose(pipe) != 0) throw Error("bench prepare: samtools failed writing " + path.string());
  must_run("samtools index -@ " + std::to_string(threads) + " '" + path.string() + "'");
}

// The same reads as gzipped tagAlign (level 6, as gzip's default), the REMC release's format.
void write_tagalign(const fs::path& path, const std::vector<uint64_t>& keys, uint64_t seed) {
  gzFile gz = gzopen(path.c_str(), "wb6");
  if (!gz) throw Error("bench prepare: cannot write " + path.string());
  std::string text;
  for (size_t i = 0; i < keys.size(); ++i) {
    const int c = static_cast<int>(keys[i] >> 32);
    const long long pos = static_cast<long long>(keys[i] & 0xffffffffu);
    char line[96];
    const int n = std::snprintf(line, sizeof line, "%s\t%lld\t%lld\tN\t1000\t%c\n", kHg19[c].name, pos, pos + kReadLength,
                                (random_bits(seed, 14, i) & 1) ? '-' : '+');
    text.append(line, static_cast<size_t>(n));
    if (text.size() > (8u << 20) || i + 1 == keys.size()) {
      if (gzwrite(gz, text.data(), static_cast<unsigned>(text.size())) != static_cast<int>(text.size()))
        throw Error("bench prepare: cannot write " + path.string());
      text.clear();
    }
  }
  if (gzclose(gz) != Z_OK) throw Error("bench prepare: cannot write " + path.string());
}

std::string tagalign_name(int mark) {
  char name[32];
  std::snprintf(name, sizeof name, "m%d.tagAlign.gz", mark);
  return name;
}

// Makes (or reuses) genes.gtf, expression.tsv, bins.bed, hg19.sizes and m0..m4.bam in `dir`
// (and m0..m4.tagAlign.gz with `tagalign`). Returns the seconds it took.
double make_inputs(const fs::path& dir, int64_t reads, int genes, int threads, bool tagalign) {
  std::string stamp = "reads=";
  stamp += std::to_string(reads);
  stamp += " genes=";
  stamp += std::to_string(genes);
  stamp += " v1\n";
  const auto t0 = Clock::now();
  const auto g = make_genes(genes, 77);
  std::error_code ec;
  if (!fs::exists(dir / "stamp.txt") || io::read_file((dir / "stamp.txt").string()) != stamp) {
    fs::create_directories(dir);
    fs::remove(dir / "stamp.txt", ec);
    fs::remove(dir / "tagalign-stamp.txt", ec);
    write_annotation(dir, g, 78);
    for (int m = 0; m < 5; ++m) {
      std::fprintf(stderr, "bench prepare: writing %s/%s (%lld reads)\n", dir.c_str(), bam_name(m).c_str(),
                   static_cast<long long>(reads));
      write_bam(dir / bam_name(m), read_keys(reads, g, 100 + static_cast<uint64_t>(m)), 100 + static_cast<uint64_t>(m),
                threads);
    }
    io::write_file_atomic((dir / "stamp.txt").string(), stamp);
  }
  if (tagalign && !fs::exists(dir / "hg19.sizes")) {
    std::string sizes;
    for (const Chrom& c : kHg19) sizes += std::string(c.name) + "\t" + std::to_string(c.length) + "\n";
    io::write_file_atomic((dir / "hg19.sizes").string(), sizes);
  }
  if (tagalign && (!fs::exists(dir / "tagalign-stamp.txt") || io::read_file((dir / "tagalign-stamp.txt").string()) != stamp)) {
    for (int m = 0; m < 5; ++m) {
      std::fprintf(stderr, "bench prepare: writing %s/%s\n", dir.c_str(), tagalign_name(m).c_str());
      write_tagalign(dir / tagalign_name(m), read_keys(reads, g, 100 + static_cast<uint64_t>(m)), 100 + static_cast<uint64_t>(m));
    }
    io::write_file_atomic((dir / "tagalign-stamp.txt").string(), stamp);
  }
  return since(t0);
}

struct PrepareRun {
  ChildRun run;
  std::vector<double> mark_s;  // from prepare's progress lines
};

// `deepchrome prepare` on the BAMs (or the tagAlign files) of `dir`, into dir/out (dir/out-tagalign).
PrepareRun run_prepare(const std::string& exe, const fs::path& dir, int threads, bool tagalign = false) {
  std::vector<std::string> argv = {exe, "prepare", "--cell", "BENCH", "--genes", (dir / "genes.gtf").string(),
                                   "--expression", (dir / "expression.tsv").string(),
                                   "--out", (dir / (tagalign ? "out-tagalign" : "out")).string(),
                                   "--threads", std::to_string(threads)};
  if (tagalign) {
    argv.push_back("--chrom-sizes");
    argv.push_back((dir / "hg19.sizes").string());
  }
  for (int m = 0; m < io::kMarks; ++m) {
    argv.push_back("--mark");
    std::string mark = io::kMarkNames[m];
    mark += "=";
    mark += (dir / (tagalign ? tagalign_name(m) : bam_name(m))).string();
    argv.push_back(mark);
  }
  PrepareRun r;
  r.run = run_child(argv, (dir / "prepare.log").string());
  const std::string log = io::read_file((dir / "prepare.log").string());
  if (r.run.exit_code != 0) throw Error("bench prepare: deepchrome prepare failed (exit " + std::to_string(r.run.exit_code) + "): " + log);
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    const size_t open = line.rfind('('), s = line.rfind(" s)");
    if (line.rfind("BENCH ", 0) == 0 && open != std::string::npos && s != std::string::npos && s > open)
      r.mark_s.push_back(std::stod(line.substr(open + 1, s - open - 1)));
  }
  return r;
}

// bedtools' counts for one mark against ours (the prepared CSVs): how many bins differ.
size_t count_differences(const fs::path& multicov_out, const fs::path& cell_dir, int mark, size_t* compared) {
  std::unordered_map<std::string, std::pair<const io::Split*, size_t>> where;
  io::LoadOptions lo;
  lo.use_cache = false;
  std::vector<io::Split> splits;
  for (const char* s : {"train", "valid", "test"})
    splits.push_back(io::load_split((cell_dir / "classification" / (std::string(s) + ".csv")).string(), lo));
  for (const auto& s : splits)
    for (size_t g = 0; g < s.size(); ++g) where[s.gene_ids[g]] = {&s, g};
  std::ifstream in(multicov_out);
  std::string chrom, start, end, name;
  long count;
  size_t differ = 0;
  *compared = 0;
  while (in >> chrom >> start >> end >> name >> count) {
    const size_t colon = name.rfind(':');
    const auto it = where.find(name.substr(0, colon));
    const int bin = std::stoi(name.substr(colon + 1));
    ++*compared;
    if (it == where.end()) {
      ++differ;
      continue;
    }
    const float ours = it->second.first->x[it->second.second * io::kValuesPerGene + static_cast<size_t>(mark) * io::kBins +
                                          static_cast<size_t>(bin - 1)];
    differ += static_cast<long>(ours) != count;
  }
  return differ;
}

}  // namespace

int run_prepare_benchmark(const std::vector<std::string>& args) {
  int64_t reads = 20'000'000;
  int genes = 19802, threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency())), bedtools_marks = 1;
  std::string work, out;
  bool tagalign = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= args.size()) throw InputError("bench: option " + a + " needs a value");
      return args[++i];
    };
    auto number = [&](long long lo, long long hi) {
      const std::string v = next();
      try {
        size_t used = 0;
        const long long n = std::stoll(v, &used);
        if (used == v.size() && n >= lo && n <= hi) return n;
      } catch (const std::exception&) {
      }
      throw InputError("bench: option " + a + " expects an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                       "], got '" + v + "'");
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (a == "--only") {
      if (next() != "prepare") throw InputError("bench: --only prepare takes no other part");
    } else if (a == "--reads") {
      reads = number(1000, 2'000'000'000);
    } else if (a == "--genes") {
      genes = static_cast<int>(number(10, 100'000));
    } else if (a == "--threads") {
      threads = static_cast<int>(number(1, 1024));
    } else if (a == "--bedtools-marks") {
      bedtools_marks = static_cast<int>(number(0, 5));
    } else if (a == "--tagalign") {
      tagalign = true;
    } else if (a == "--work") {
      work = next();
    } else if (a == "--out") {
      out = next();
    } else {
      throw InputError("bench: unknown option '" + a + "' for --only prepare (see deepchrome bench --only prepare --help)");
    }
  }
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  const std::string exe = len > 0 ? (fs::path(std::string(self, static_cast<size_t>(len))).parent_path() / "deepchrome").string()
                                  : "deepchrome";
  if (access(exe.c_str(), X_OK) != 0) throw InputError("bench: --only prepare runs " + exe + ", which is not there");
  for (const char* tool : {"samtools", "bedtools"})
    if (std::system((std::string("command -v ") + tool + " > /dev/null 2>&1").c_str()) != 0)
      throw InputError(std::string("bench: --only prepare needs ") + tool + " (apt-get install samtools bedtools)");
  if (work.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    work = std::string(tmp && *tmp ? tmp : "/tmp") + "/deepchrome-bench-prepare";
  }
  const fs::path full = fs::path(work) / "full", small = fs::path(work) / "tenth";

  ordered_json doc;
  doc["benchmark"] = "prepare";
  // This is a shared 2-core machine at times: the 1-minute load average says how shared.
  doc["machine"] = {{"cpu", cpu_model()}, {"cores", std::thread::hardware_concurrency()}, {"load_average_at_start", load_average()}};
  const double gen_small = make_inputs(small, std::max<int64_t>(reads / 10, 1000), genes, threads, false);
  const double gen_full = make_inputs(full, reads, genes, threads, tagalign);
  int64_t bam_bytes = 0;
  for (int m = 0; m < 5; ++m) bam_bytes += static_cast<int64_t>(fs::file_size(full / bam_name(m)));
  doc["input"] = {{"genes", genes},
                  {"marks", 5},
                  {"reads_per_mark", reads},
                  {"read_length", kReadLength},
                  {"bam_mb_all_marks", static_cast<double>(bam_bytes) / 1048576.0},
                  {"generate_s", gen_full + gen_small},
                  {"work", work}};

  // Ours: the deepchrome executable, all five marks; then the same on a tenth of the reads.
  const PrepareRun ours = run_prepare(exe, full, threads);
  const PrepareRun tenth = run_prepare(exe, small, threads);
  const double per_mark = ours.run.seconds / 5;
  doc["prepare"] = {{"threads", threads},
                    {"seconds_all_marks", ours.run.seconds},
                    {"seconds_per_mark", per_mark},
                    {"counting_s_per_mark", ours.mark_s},
                    {"reads_per_s", static_cast<double>(5 * reads) / ours.run.seconds},
                    {"cpu_s", ours.run.cpu_s},
                    {"peak_rss_mb", ours.run.peak_rss_mb},
                    {"tenth_of_the_reads", {{"seconds_all_marks", tenth.run.seconds}, {"peak_rss_mb", tenth.run.peak_rss_mb}}}};

  // The same reads as gzipped tagAlign (the REMC release's format), prepare only.
  if (tagalign) {
    const PrepareRun t = run_prepare(exe, full, threads, true);
    doc["prepare_tagalign_gz"] = {{"seconds_all_marks", t.run.seconds},
                                  {"counting_s_per_mark", t.mark_s},
                                  {"reads_per_s", static_cast<double>(5 * reads) / t.run.seconds},
                                  {"cpu_s", t.run.cpu_s},
                                  {"peak_rss_mb", t.run.peak_rss_mb}};
  }

  // bedtools multicov, one mark at a time, on the same BAMs and bins.
  if (bedtools_marks > 0) {
    ordered_json marks = ordered_json::array();
    double total = 0, peak = 0;
    bool identical = true;
    for (int m = 0; m < bedtools_marks; ++m) {
      const fs::path bam = full / bam_name(m), cov = full / ("multicov" + std::to_string(m) + ".txt");
      std::fprintf(stderr, "bench prepare: bedtools multicov on %s\n", bam.c_str());
      const ChildRun b = run_child({"bedtools", "multicov", "-bams", bam.string(), "-bed", (full / "bins.bed").string()}, cov.string());
      if (b.exit_code != 0) throw Error("bench prepare: bedtools multicov failed on " + bam.string());
      size_t compared = 0;
      const size_t differ = count_differences(cov, full / "out" / "BENCH", m, &compared);
      identical = identical && differ == 0 && compared == static_cast<size_t>(genes) * 100;
      marks.push_back({{"mark", io::kMarkNames[m]},
                       {"seconds", b.seconds},
                       {"cpu_s", b.cpu_s},
                       {"peak_rss_mb", b.peak_rss_mb},
                       {"bins_compared", compared},
                       {"bins_differing", differ}});
      total += b.seconds;
      peak = std::max(peak, b.peak_rss_mb);
    }
    const double bt_per_mark = total / bedtools_marks;
    doc["bedtools"] = {{"version", command_output("bedtools --version")},
                       {"marks_timed", bedtools_marks},
                       {"seconds_per_mark", bt_per_mark},
                       {"seconds_all_marks_estimated", bt_per_mark * 5},
                       {"reads_per_s", static_cast<double>(reads) / bt_per_mark},
                       {"peak_rss_mb", peak},
                       {"counts_identical", identical},
                       {"marks", marks}};
    double bt_cpu = 0;
    for (const auto& m : marks) bt_cpu += m["cpu_s"].get<double>();
    doc["speedup_per_mark"] = bt_per_mark / per_mark;
    // CPU seconds per mark, both sides: less sensitive to other load on a shared machine.
    doc["speedup_per_mark_cpu"] = (bt_cpu / bedtools_marks) / (ours.run.cpu_s / 5);
    doc["targets"] = {{"speedup_per_mark_at_least", 25},
                      {"all_marks_seconds_at_most", 60},
                      {"met", bt_per_mark / per_mark >= 25 && ours.run.seconds <= 60 && identical}};
  }
  doc["machine"]["load_average_at_end"] = load_average();
  const std::string text = doc.dump(2) + "\n";
  std::fputs(text.c_str(), stdout);
  if (!out.empty()) io::write_file_atomic(out, text);
  return 0;
}

}  // namespace dc::bench
