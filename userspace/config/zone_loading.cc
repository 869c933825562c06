// Loading the configured zones into one immutable ZoneSet snapshot.
#include "config/zone_loading.h"

#include <utility>
#include <vector>

#include "zone/master_file.h"
#include "zone/route53_json.h"

namespace meridian::config {

Result<std::shared_ptr<const zone::ZoneSet>> load_zones(const DaemonConfig& config) {
  std::vector<std::shared_ptr<const zone::Zone>> zones;
  zones.reserve(config.zones.size());
  // Duplicates first: a cheap check that should not wait for every zone file to be parsed.
  for (size_t i = 0; i < config.zones.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (config.zones[j].origin == config.zones[i].origin) {
        return make_error("duplicate zone " + config.zones[i].origin.to_text() + " (also " +
                              config.zones[j].json_path + ")",
                          config.source + ": " + config.zones[i].json_path + "/origin");
      }
    }
  }
  for (const ZoneSource& source : config.zones) {
    Result<zone::Zone> loaded = source.format == ZoneFormat::kRfc1035
                                    ? zone::load_master_file(source.file, source.origin)
                                    : zone::load_route53_json(source.file, source.origin);
    if (!loaded) {
      Error error = loaded.error();
      // Loaders name the file and line; make sure an error without a location still says which
      // zone file it came from.
      if (error.where.empty()) error.where = source.file;
      error.what = "zone " + source.origin.to_text() + ": " + error.what;
      return error;
    }
    zones.push_back(std::make_shared<const zone::Zone>(std::move(loaded).value()));
  }
  return std::shared_ptr<const zone::ZoneSet>(
      std::make_shared<const zone::ZoneSet>(std::move(zones)));
}

}  // namespace meridian::config
