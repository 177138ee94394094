#include "io/prepare/annotation.h"

#include <unordered_map>

#include "kernels/base/error.h"
#include "io/prepare/text_lines.h"

namespace dc::io::prepare {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of `key` in a GTF attribute column: `gene_id "ENSG..."; gene_type "...";`.
bool gtf_attribute(std::string_view attributes, std::string_view key, std::string_view& value) {
  while (!attributes.empty()) {
    const size_t semi = attributes.find(';');
    std::string_view part = trim(attributes.substr(0, semi));
    attributes = semi == std::string_view::npos ? std::string_view{} : attributes.substr(semi + 1);
    const size_t space = part.find_first_of(" \t");
    if (space == std::string_view::npos || part.substr(0, space) != key) continue;
    value = trim(part.substr(space + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return true;
  }
  return false;
}

// The value of `key` in a GFF3 attribute column: `ID=gene:ENSG...;gene_id=ENSG...;...`.
bool gff3_attribute(std::string_view attributes, std::string_view key, std::string_view& value) {
  while (!attributes.empty()) {
    const size_t semi = attributes.find(';');
    std::string_view part = trim(attributes.substr(0, semi));
    attributes = semi == std::string_view::npos ? std::string_view{} : attributes.substr(semi + 1);
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos || trim(part.substr(0, eq)) != key) continue;
    value = trim(part.substr(eq + 1));
    return true;
  }
  return false;
}

bool is_int(std::string_view s) {
  int64_t v;
  return parse_int64(s, v);
}

// The format of the first data line (after comments); empty when it is none of them.
std::string sniff_format(const std::vector<std::string_view>& f, bool gff3_header) {
  if (f.size() >= 9 && is_int(f[3]) && is_int(f[4])) {
    if (gff3_header) return "gff3";
    std::string_view v;
    if (f[8].find('"') != std::string_view::npos) return "gtf";
    if (gff3_attribute(f[8], "ID", v) || gff3_attribute(f[8], "gene_id", v) || f[8].find('=') != std::string_view::npos)
      return "gff3";
    return "gtf";
  }
  if (f.size() >= 6 && is_int(f[1]) && is_int(f[2])) return "bed";
  return "";
}

}  // namespace

std::string strip_version(std::string_view id) {
  const size_t dot = id.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == id.size()) return std::string(id);
  for (size_t i = dot + 1; i < id.size(); ++i)
    if (id[i] < '0' || id[i] > '9') return std::string(id);
  return std::string(id.substr(0, dot));
}

Annotation read_annotation(const std::string& path) {
  Annotation a;
  a.path = path;
  TextLines lines(path);
  std::string_view line;
  std::vector<std::string_view> f;
  std::unordered_map<std::string, size_t> line_of_id;
  bool gff3_header = false;
  size_t expected_fields = 0;
  while (lines.next(line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (line.rfind("##gff-version 3", 0) == 0) gff3_header = true;
      if (line.rfind("##FASTA", 0) == 0) break;  // GFF3: sequences follow, no more features
      continue;
    }
    if (line.rfind("track", 0) == 0 || line.rfind("browser", 0) == 0) continue;  // BED headers
    split_tabs(line, f);
    if (a.format.empty()) {
      a.format = sniff_format(f, gff3_header);
      if (a.format.empty())
        throw InputError(lines.where() + "not a GTF, GFF3 or BED6 line (GTF/GFF3: 9 tab-separated columns with numeric "
                         "start and end in 4 and 5; BED6: chrom, start, end, name, score, strand): " + quote_text(line));
      expected_fields = a.format == "bed" ? 6 : 9;
    }
    if (f.size() < expected_fields || (a.format != "bed" && f.size() != 9))
      throw InputError(lines.where() + "expected " + (a.format == "bed" ? "at least 6" : std::string("9")) +
                       " tab-separated columns (" + a.format + "), found " + std::to_string(f.size()));
    std::string_view chrom, id, strand;
    int64_t start = 0, end = 0;
    if (a.format == "bed") {
      chrom = f[0];
      id = f[3];
      strand = f[5];
      if (!parse_int64(f[1], start) || !parse_int64(f[2], end) || start < 0 || end <= start)
        throw InputError(lines.where() + "BED start and end must be integers with 0 <= start < end, found " +
                         quote_text(f[1]) + " and " + quote_text(f[2]));
    } else {
      if (f[2] != "gene") continue;
      chrom = f[0];
      strand = f[6];
      if (!parse_int64(f[3], start) || !parse_int64(f[4], end) || start < 1 || end < start)
        throw InputError(lines.where() + "start and end must be integers with 1 <= start <= end, found " + quote_text(f[3]) +
                         " and " + quote_text(f[4]));
      const bool found = a.format == "gtf" ? gtf_attribute(f[8], "gene_id", id)
                                           : (gff3_attribute(f[8], "gene_id", id) || gff3_attribute(f[8], "ID", id));
      if (!found || id.empty())
        throw InputError(lines.where() + "gene record without a gene_id attribute" +
                         (a.format == "gff3" ? std::string(" (or ID)") : std::string()));
      if (a.format == "gff3" && id.rfind("gene:", 0) == 0) id.remove_prefix(5);  // Ensembl GFF3 IDs
    }
    if (chrom.empty()) throw InputError(lines.where() + "empty chromosome name");
    if (strand != "+" && strand != "-")
      throw InputError(lines.where() + "gene " + quote_text(id) + " has strand " + quote_text(strand) +
                       "; its TSS needs + or -");
    Gene g;
    g.id = strip_version(id);
    if (g.id.empty() || g.id.find_first_of(",\r\n") != std::string::npos)
      throw InputError(lines.where() + "gene id " + quote_text(id) + " cannot be a GeneID (empty, or holds a comma)");
    g.minus = strand == "-";
    // TSS, 1-based: start on +, end on -. BED start is 0-based, its end is the last base.
    g.tss = a.format == "bed" ? (g.minus ? end : start + 1) : (g.minus ? end : start);
    g.line = lines.line_number();
    auto [it, inserted] = a.chrom_index.try_emplace(std::string(chrom), static_cast<int>(a.chroms.size()));
    if (inserted) a.chroms.emplace_back(chrom);
    g.chrom = it->second;
    auto [seen, fresh] = line_of_id.try_emplace(g.id, g.line);
    if (!fresh)
      throw InputError(lines.where() + "duplicate gene id " + quote_text(g.id) + " (also at line " +
                       std::to_string(seen->second) + (g.id != id ? ", after stripping the version suffix" : "") + ")");
    a.genes.push_back(std::move(g));
  }
  if (a.genes.empty())
    throw InputError(path + ": no genes found (" +
                     (a.format.empty() ? std::string("no data lines") : "no `gene` records in this " + a.format + " file") +
                     ")");
  return a;
}

}  // namespace dc::io::prepare
