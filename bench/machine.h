// What every benchmark's JSON says about the machine it ran on: the CPU's name and how
// busy the machine was (these are shared machines; timings are only compared within a run).
#pragma once

#include <string>

namespace dc::bench {

// The CPU's model name from /proc/cpuinfo ("unknown" where there is none).
std::string cpu_model();

// The 1-minute load average (-1 where unavailable).
double load_average();

}  // namespace dc::bench
