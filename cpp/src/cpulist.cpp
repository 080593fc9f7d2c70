#include "inferclock/cpulist.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <iterator>

#include "inferclock/errors.hpp"

namespace inferclock {

namespace {

[[noreturn]] void bad_list(std::string_view text, const std::string& why) {
    throw PinningError("bad CPU list '" + std::string(text) + "': " + why +
                       " (expected CPUs and ranges such as '0-3,8')");
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

int parse_cpu(std::string_view whole, std::string_view s) {
    s = trim(s);
    int v = -1;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size())
        bad_list(whole, "'" + std::string(s) + "' is not a CPU number");
    if (v < 0 || v > kMaxCpu)
        bad_list(whole, "CPU " + std::string(s) + " is outside 0-" + std::to_string(kMaxCpu));
    return v;
}

}  // namespace

std::vector<int> parse_cpulist(std::string_view text) {
    std::vector<int> out;
    const std::string_view body = trim(text);
    if (body.empty()) return out;
    size_t pos = 0;
    while (pos <= body.size()) {
        size_t comma = body.find(',', pos);
        if (comma == std::string_view::npos) comma = body.size();
        const std::string_view item = body.substr(pos, comma - pos);
        const size_t dash = item.find('-');
        if (dash == std::string_view::npos) {
            out.push_back(parse_cpu(text, item));
        } else {
            const int lo = parse_cpu(text, item.substr(0, dash));
            const int hi = parse_cpu(text, item.substr(dash + 1));
            if (hi < lo) bad_list(text, "range '" + std::string(trim(item)) + "' runs backwards");
            for (int c = lo; c <= hi; ++c) out.push_back(c);
        }
        pos = comma + 1;
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::string format_cpulist(std::vector<int> cpus) {
    std::sort(cpus.begin(), cpus.end());
    cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
    std::string out;
    for (size_t i = 0; i < cpus.size();) {
        size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
        if (!out.empty()) out += ',';
        out += std::to_string(cpus[i]);
        if (j > i) out += '-' + std::to_string(cpus[j]);
        i = j + 1;
    }
    return out;
}

std::vector<int> intersect(const std::vector<int>& a, const std::vector<int>& b) {
    std::vector<int> out;
    std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
    return out;
}

std::vector<int> subtract(const std::vector<int>& a, const std::vector<int>& b) {
    std::vector<int> out;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
    return out;
}

}  // namespace inferclock
