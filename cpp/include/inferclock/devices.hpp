// Devices and plugins: the process-wide ov::Core, external plugins registered on it, and the
// check that a device string ("CPU", "GPU.1", "HETERO:FPGA,CPU", "AUTO:-GPU,CPU") names
// devices that are present.
#pragma once

#include <string>
#include <vector>

#include <openvino/runtime/core.hpp>

namespace inferclock {

// The process-wide ov::Core (plugins registered on it persist for the process). In a child
// forked after it was made, ConfigError at once (check_not_forked) instead of a hang.
ov::Core& core();
// ConfigError naming spawn and isolate=True when this process was forked after the core was
// made (OpenVINO's threads stay behind in the parent); nothing otherwise.
void check_not_forked();
// The pid this process was forked from after the core was made there; 0 when it was not.
long forked_from();
// Register an external plugin library under a device name (DeviceError when it fails).
// Registering the same library under the same name again does nothing.
void register_plugin(const std::string& library_path, const std::string& device_name);
void register_plugins_xml(const std::string& xml_path);
// Devices OpenVINO lists.
std::vector<std::string> available_devices();
// The devices a device string refers to: "HETERO:FPGA,CPU" -> {FPGA, CPU}; "GPU.1" -> {GPU.1};
// "AUTO" alone -> {} (it picks among those present); "-GPU" exclusions and "(2)" priorities
// are reduced to the name.
std::vector<std::string> device_names(const std::string& device);
// DeviceError naming what is missing and what is present when `device` refers to a device
// that is not there.
void check_device(const std::string& device);

}  // namespace inferclock
