// The CPU-list parser and printer ("0-3,8"), and the sorted-set helpers.
#include <string>
#include <vector>

#include "check.hpp"
#include "inferclock/cpulist.hpp"
#include "inferclock/errors.hpp"

using inferclock::format_cpulist;
using inferclock::parse_cpulist;
using inferclock::PinningError;
using V = std::vector<int>;

TEST(cpulist_parses_the_kernel_form) {
    CHECK(parse_cpulist("0-3,8\n") == V({0, 1, 2, 3, 8}));
    CHECK(parse_cpulist(" 8, 0-1 ,1") == V({0, 1, 8}));  // sorted, no duplicates, spaces ok
    CHECK(parse_cpulist("5") == V({5}));
    CHECK(parse_cpulist("2-2") == V({2}));
    CHECK(parse_cpulist("").empty());
    CHECK(parse_cpulist(" \n").empty());
    CHECK(parse_cpulist("65535") == V({65535}));
}

TEST(cpulist_rejects_bad_text_with_pinning_error) {
    for (const char* bad :
         {"a", "1-", "-1", "3-1", "1,,2", "1-2-3", "65536", "0-99999999", "1.5", "2,", "+1"})
        CHECK_THROWS(PinningError, parse_cpulist(bad));
    try {
        parse_cpulist("3-1");
    } catch (const PinningError& e) {
        CHECK(std::string(e.what()).find("runs backwards") != std::string::npos);
    }
}

TEST(cpulist_formats_ranges_and_round_trips) {
    CHECK_EQ(format_cpulist({8, 0, 1, 2, 3}), std::string("0-3,8"));
    CHECK_EQ(format_cpulist({1, 1, 3, 5, 4}), std::string("1,3-5"));
    CHECK_EQ(format_cpulist({}), std::string(""));
    const V many = {0, 1, 2, 5, 7, 8, 9, 10, 63, 64};
    CHECK(parse_cpulist(format_cpulist(many)) == many);
}

TEST(cpulist_set_helpers) {
    CHECK(inferclock::intersect({0, 1, 2, 5}, {1, 5, 9}) == V({1, 5}));
    CHECK(inferclock::subtract({0, 1, 2, 5}, {1, 5, 9}) == V({0, 2}));
    CHECK(inferclock::intersect({}, {1}).empty());
}
