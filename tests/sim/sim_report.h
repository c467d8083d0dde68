// sim_report.h: what each scenario prints, and the optional results file.
//
// Owns: the banner with the seed ("[sim] <scenario> seed=0x... replay with
// PRESENCED_SIM_SEED=0x..."), the one-line summary of a run and appending
// that line to the file named by PRESENCED_SIM_RESULTS (if set), so a CI
// job or a person can collect the numbers (e.g. the false-offline rate at
// 30% loss) without parsing test logs.
#pragma once

#include <cstdint>
#include <string>

namespace presenced::sim {

class World;

// Prints the banner; returns the text for SCOPED_TRACE, so every failure
// message carries the seed.
std::string announce(const std::string& scenario, uint64_t seed);

// "[sim] <scenario> false_offlines=.. events=.. packets=.. cpu=..s <extra>",
// printed and appended to $PRESENCED_SIM_RESULTS.
void report(const std::string& scenario, uint64_t seed, const World& w, double cpu_s,
            const std::string& extra = "");

// Appends a free-form line to stdout and the results file.
void report_line(const std::string& line);

}  // namespace presenced::sim
