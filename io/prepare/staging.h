// All-or-nothing output of `prepare`: every cell is written into a hidden staging folder
// inside --out (OUT/.prepare.tmp.<pid>/<cell>, each file itself written atomically), and
// only when every cell is complete does commit() move each one to OUT/<cell>, replacing
// a folder of that name as a whole. Destroying the stage without commit() (an error
// anywhere) removes the staging folder, and --out itself and any parents it created,
// when they are left empty: a failed run leaves nothing behind.
#pragma once

#include <string>
#include <vector>

namespace dc::io::prepare {

class OutputStage {
 public:
  explicit OutputStage(std::string out);
  ~OutputStage();
  OutputStage(const OutputStage&) = delete;
  OutputStage& operator=(const OutputStage&) = delete;

  // The staging folder of `cell` (created empty).
  std::string cell_dir(const std::string& cell);

  // Moves every staged cell into place (OUT/<cell>) and removes the staging folder.
  void commit();

 private:
  void remove_created();

  std::string out_, stage_;
  std::vector<std::string> created_;  // folders this run created, outermost first
  std::vector<std::string> cells_;
  bool committed_ = false;
};

}  // namespace dc::io::prepare
