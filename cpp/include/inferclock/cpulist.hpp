// CPU lists in the kernel's text form ("0-3,8"), as sysfs prints them and as users type them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace inferclock {

// Largest CPU number accepted: far above any kernel's NR_CPUS, low enough that a typo such as
// "0-99999999" is an error instead of a huge allocation.
inline constexpr int kMaxCpu = 65535;

// "0-3,8\n" -> {0,1,2,3,8}: sorted, without duplicates; blank text is the empty list.
// Throws PinningError naming the bad text.
std::vector<int> parse_cpulist(std::string_view text);

// {8,0,1,2,3} -> "0-3,8" (input in any order, duplicates allowed); {} -> "".
std::string format_cpulist(std::vector<int> cpus);

// Sorted-set helpers for the vectors above (inputs sorted and unique).
std::vector<int> intersect(const std::vector<int>& a, const std::vector<int>& b);
std::vector<int> subtract(const std::vector<int>& a, const std::vector<int>& b);

}  // namespace inferclock
