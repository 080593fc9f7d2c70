// Devices and plugins: the process-wide ov::Core, plugin registration, device-name parsing and
// the presence check with its explanations (FPGA needs an external plugin, and so on).
#include "inferclock/devices.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "detail.hpp"
#include "inferclock/errors.hpp"

namespace inferclock {

using detail::join;
using detail::ov_message;

namespace {

bool is_file(const std::string& p) {
    struct stat st{};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

const std::set<std::string>& meta_devices() {
    static const std::set<std::string> m{"AUTO", "HETERO", "MULTI", "BATCH"};
    return m;
}

std::string base_name(const std::string& name) { return name.substr(0, name.find('.')); }

std::mutex g_plugins_mu;
std::map<std::string, std::string> g_plugins;  // device name -> library registered here

std::string why_missing(const std::string& name) {
    if (name == "FPGA")
        return "no OpenVINO plugin is registered for 'FPGA'. FPGAs need an external plugin "
               "(Intel FPGA AI Suite ships one; it is not in the openvino wheel): register it "
               "with ic.register_plugin(library_path, 'FPGA') or --plugin FPGA=PATH, usually "
               "run as HETERO:FPGA,CPU";
    if (name == "GPU" || name == "NPU")
        return "OpenVINO found no " + name + " on this machine (its " + name +
               " plugin loaded but reported no device)";
    return "'" + name +
           "' is not a device OpenVINO knows here (register an external "
           "plugin with ic.register_plugin(library_path, '" +
           name + "'))";
}

}  // namespace

namespace {
// Set in a child forked after the core was made: OpenVINO's threads (TBB's workers, the CPU
// plugin's streams) are not copied by fork, so the child's first compile or inference waits
// on threads that do not exist there. pthread_atfork is registered with the core, so a fork
// before any use (right after import) leaves the child free to make its own.
std::atomic<bool> g_forked{false};
std::atomic<long> g_parent{0};
extern "C" void on_fork_child() { g_forked.store(true, std::memory_order_relaxed); }
}  // namespace

long forked_from() { return g_forked.load(std::memory_order_relaxed) ? g_parent.load() : 0; }

void check_not_forked() {
    if (!g_forked.load(std::memory_order_relaxed)) return;
    throw ConfigError(
        "this process (pid " + std::to_string(static_cast<long>(::getpid())) +
        ") was forked from pid " + std::to_string(g_parent.load()) +
        " after that process had used OpenVINO: its threads do not survive a fork, so "
        "inference here would hang. Start workers with the 'spawn' (or 'forkserver') start "
        "method (multiprocessing.get_context('spawn'), ProcessPoolExecutor(mp_context=...)), "
        "or call ic.run(..., isolate=True), which times in a fresh process");
}

ov::Core& core() {
    check_not_forked();
    static ov::Core& c = [] () -> ov::Core& {
        g_parent.store(static_cast<long>(::getpid()));
        pthread_atfork(nullptr, nullptr, on_fork_child);
        static ov::Core made;
        return made;
    }();
    return c;
}

std::vector<std::string> available_devices() {
    try {
        return core().get_available_devices();
    } catch (const std::exception& e) {
        throw DeviceError("OpenVINO could not list its devices: " + ov_message(e));
    }
}

void register_plugin(const std::string& library_path, const std::string& device_name) {
    if (device_name.empty() || device_name.find_first_of(":,. ") != std::string::npos)
        throw DeviceError("plugin device name must be a plain name like 'FPGA', got '" +
                          device_name + "'");
    if (!is_file(library_path))
        throw DeviceError("plugin library for device '" + device_name + "' not found: '" +
                          library_path + "' is not a file");
    std::lock_guard<std::mutex> lk(g_plugins_mu);
    auto it = g_plugins.find(device_name);
    if (it != g_plugins.end()) {
        if (it->second == library_path) return;  // same registration again: nothing to do
        throw DeviceError("device '" + device_name + "' is already registered with '" + it->second +
                          "'; cannot register '" + library_path + "' under it");
    }
    try {
        core().register_plugin(library_path, device_name);
        g_plugins[device_name] = library_path;
    } catch (const std::exception& e) {
        throw DeviceError("could not register plugin '" + library_path + "' as device '" +
                          device_name + "': " + ov_message(e));
    }
}

void register_plugins_xml(const std::string& xml_path) {
    if (!is_file(xml_path))
        throw DeviceError("plugins XML not found: '" + xml_path + "' is not a file");
    try {
        core().register_plugins(xml_path);
    } catch (const std::exception& e) {
        throw DeviceError("could not register plugins from '" + xml_path + "': " + ov_message(e));
    }
}

std::vector<std::string> device_names(const std::string& device) {
    std::vector<std::string> names;
    const auto colon = device.find(':');
    const std::string head = device.substr(0, colon);
    if (!meta_devices().count(head)) {
        names.push_back(device);
        return names;
    }
    if (colon == std::string::npos) return names;  // AUTO alone picks among present ones
    std::stringstream ss(device.substr(colon + 1));
    std::string item;
    while (std::getline(ss, item, ',')) {
        while (!item.empty() && (item[0] == '-' || item[0] == ' ')) item.erase(0, 1);
        const auto paren = item.find('(');
        if (paren != std::string::npos) item = item.substr(0, paren);
        if (!item.empty()) names.push_back(item);
    }
    return names;
}

void check_device(const std::string& device) {
    if (device.empty()) throw DeviceError("device must not be empty (e.g. 'CPU')");
    const auto present = available_devices();
    for (const auto& name : device_names(device)) {
        if (meta_devices().count(base_name(name))) continue;
        bool found = std::find(present.begin(), present.end(), name) != present.end();
        if (!found && name.find('.') == std::string::npos) {
            // "GPU" matches "GPU.0".
            for (const auto& p : present)
                if (base_name(p) == name) found = true;
        }
        if (!found) {
            try {
                // A plugin registered by name but listing no device still answers this.
                found = !core().get_property(name, ov::device::full_name).empty();
            } catch (const std::exception&) {
            }
        }
        if (found) continue;
        throw DeviceError("device '" + device + "' is not available: " + why_missing(name) +
                          ". Devices present: " + join(present) +
                          " (plus AUTO, HETERO:..., MULTI:... over them)");
    }
}

}  // namespace inferclock
