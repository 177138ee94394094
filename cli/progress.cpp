#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace dc::cli {

Progress::Progress(std::string label, int epochs, bool quiet)
    : label_(std::move(label)), epochs_(epochs), quiet_(quiet), tty_(isatty(STDERR_FILENO) == 1) {}

void Progress::batch(int epoch, int done, int total, double loss) {
  if (quiet_ || !tty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done != total && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(static_cast<long long>(kWidth) * done / total);
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = 0;
  std::fprintf(stderr, "\r\033[K%s epoch %d/%d [%s] %d/%d loss %.4f", label_.c_str(), epoch, epochs_, bar, done, total, loss);
  std::fflush(stderr);
}

void Progress::epoch(const EpochRecord& r) {
  if (quiet_) return;
  if (tty_ && drawn_) std::fprintf(stderr, "\r\033[K");
  std::printf("%s epoch %3d/%d  loss %.4f  valid AUROC %.4f  test AUROC %.4f  %.2f s\n", label_.c_str(), r.epoch, epochs_,
              r.train_loss, r.valid_auroc, r.test_auroc, r.seconds);
  std::fflush(stdout);
}

}  // namespace dc::cli
