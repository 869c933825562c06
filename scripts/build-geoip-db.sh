#!/usr/bin/env bash
# Builds Meridian's default country database (MaxMind DB format) from the IPv4/IPv6 country
# ranges Debian's tor-geoipdb ships, with continents and centroid locations from
# userspace/geo/data/country_centroids.csv. Usage: build-geoip-db.sh OUT.mmdb
# Sources can be overridden with MERIDIAN_GEOIP4 / MERIDIAN_GEOIP6 (same format as Tor's files).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUT.mmdb" >&2
  exit 2
fi
out=$1
root=$(cd "$(dirname "$0")/.." && pwd)
geoip4=${MERIDIAN_GEOIP4:-/usr/share/tor/geoip}
geoip6=${MERIDIAN_GEOIP6:-/usr/share/tor/geoip6}
centroids=$root/userspace/geo/data/country_centroids.csv

for f in "$geoip4" "$geoip6"; do
  if [ ! -r "$f" ]; then
    echo "build-geoip-db: $f not found (install tor-geoipdb: apt-get install tor-geoipdb)" >&2
    exit 1
  fi
done
perl -MMaxMind::DB::Writer::Tree -e1 2>/dev/null || {
  echo "build-geoip-db: MaxMind::DB::Writer missing (apt-get install libmaxmind-db-writer-perl)" >&2
  exit 1
}

mkdir -p "$(dirname "$out")"
# Written next to the target and renamed: a running daemon never sees a half-written file.
tmp=$(mktemp "$out.tmp.XXXXXX")
trap 'rm -f "$tmp"' EXIT
perl "$root/scripts/mmdb_writer.pl" "$geoip4" "$geoip6" "$centroids" "$tmp"

# The file must open and answer: mmdblookup exits 0 (found) or 6 (no entry), anything else
# means the database is unusable.
if command -v mmdblookup >/dev/null 2>&1; then
  rc=0
  mmdblookup --file "$tmp" --ip 192.0.2.1 >/dev/null 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 6 ]; then
    echo "build-geoip-db: the new database does not open (mmdblookup exit $rc)" >&2
    exit 1
  fi
fi
chmod 0644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "build-geoip-db: wrote $out ($(stat -c %s "$out") bytes)"
