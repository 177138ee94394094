// Which read file holds which mark of which cell type: `--cell C --mark NAME=PATH ...` for
// one cell, or `--cells-from FILE` for many (tab-separated `cell mark path` lines; '#'
// comments and an optional `cell mark path` header; relative paths are taken from the
// file's folder). Every cell needs each of the release's five marks exactly once.
#pragma once

#include <string>
#include <vector>

namespace dc::io::prepare {

struct MarkInput {
  std::string mark, path;
  std::string origin;  // where it was given ("--mark" or "<file>:<line>"), for messages
};

struct CellInput {
  std::string cell;
  std::vector<MarkInput> marks;  // after order_marks: one per mark, in io::kMarkNames order
};

// "H3K4me3=reads.bam" -> {H3K4me3, reads.bam}. dc::InputError when it has no '='.
MarkInput parse_mark_option(const std::string& text);

// The cells of a --cells-from file, in order of first appearance.
std::vector<CellInput> read_cells_file(const std::string& path);

// Checks the cell's name (usable as a folder name) and its marks (only the five release
// marks, each exactly once) and puts them in kMarkNames order. dc::InputError otherwise,
// naming the mark and where it was given.
void order_marks(CellInput& cell);

}  // namespace dc::io::prepare
