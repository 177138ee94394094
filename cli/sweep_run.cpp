// A sweep's run as a child process (see cli/sweep_run.h).
#include "cli/sweep_run.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "cli/commands.h"
#include "io/formats/atomic_file.h"
#include "io/experiment/train_state.h"
#include "kernels/base/error.h"

namespace dc::cli {

namespace fs = std::filesystem;

std::string job_file(const std::string& state_dir, const io::SweepJob& job) {
  return state_dir + "/" + io::job_file_name(job);
}

std::string self_exe() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw Error("sweep: cannot find the deepchrome executable (/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

std::string tail(const std::string& path, int lines) {
  std::string text;
  try {
    text = io::read_file(path);
  } catch (const std::exception&) {
    return "";
  }
  size_t pos = text.size();
  if (pos && text[pos - 1] == '\n') --pos;
  for (int i = 0; i < lines && pos != std::string::npos && pos > 0; ++i) pos = text.rfind('\n', pos - 1);
  return text.substr(pos == std::string::npos ? 0 : pos + 1);
}

std::string run_status_text(int status) {
  return WIFEXITED(status)     ? "exit code " + std::to_string(WEXITSTATUS(status))
         : WIFSIGNALED(status) ? std::string("signal ") + strsignal(WTERMSIG(status))
                               : "unknown status";
}

namespace {
// "NAME=value" -> "NAME" (the whole text when there is no '=').
std::string env_name(const char* entry) {
  const char* eq = std::strchr(entry, '=');
  return eq ? std::string(entry, static_cast<size_t>(eq - entry)) : std::string(entry);
}
}  // namespace

Lifeline::Lifeline() {
  if (::pipe2(fd_, O_CLOEXEC) != 0) throw Error(std::string("sweep: cannot create a pipe: ") + std::strerror(errno));
}

Lifeline::~Lifeline() {
  for (int f : fd_)
    if (f >= 0) ::close(f);
}

pid_t start_run(const std::string& exe, const io::SweepJob& job, const std::string& job_file, int lifeline_fd,
                const std::vector<std::string>& extra_env) {
  // An interrupted run continues from its saved state (`train --resume`): everything else it
  // left is removed, and written again by the run.
  std::error_code ec;
  if (fs::is_directory(job.run_dir, ec)) {
    std::vector<fs::path> left;
    for (const auto& entry : fs::directory_iterator(job.run_dir, ec))
      if (entry.path().filename() != io::kTrainStateFile) left.push_back(entry.path());
    if (ec) throw Error(job.run_dir + ": cannot list the interrupted run: " + ec.message());
    for (const auto& path : left) {
      fs::remove_all(path, ec);
      if (ec) throw Error(path.string() + ": cannot remove what the interrupted run left: " + ec.message());
    }
  }
  // It also continues with the thread count it started with (its state's identity has it:
  // another count would give other bytes), whatever this sweep's split of the threads is
  // (another parallel_runs, or another number of MPI ranks per node).
  nlohmann::json config = job.config;
  const int saved_threads = io::train_state_threads(job.run_dir + "/" + io::kTrainStateFile);
  if (saved_threads > 0) config["threads"] = saved_threads;
  io::ensure_directory(job.run_dir);
  io::write_file_atomic(job_file, config.dump(2) + "\n");
  const std::string log = job.run_dir + "/train.log";
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) throw Error(log + ": cannot create the log: " + std::strerror(errno));
  // The child's environment: ours plus the lifeline's fd and extra_env (built before fork:
  // the child may only make async-signal-safe calls).
  std::vector<std::string> added = extra_env;
  added.push_back(std::string(kLifelineEnv) + "=" + std::to_string(lifeline_fd));
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) {
    bool replaced = false;
    for (const auto& a : added) replaced = replaced || env_name(*e) == env_name(a.c_str());
    if (!replaced) envp.push_back(*e);
  }
  for (auto& a : added) envp.push_back(a.data());
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    throw Error(std::string("sweep: fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::fcntl(lifeline_fd, F_SETFD, 0);  // the read end survives exec; the write end does not
    const char* argv[] = {exe.c_str(), "train", job_file.c_str(), "--resume", nullptr};
    ::execve(exe.c_str(), const_cast<char* const*>(argv), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  return pid;
}

}  // namespace dc::cli
