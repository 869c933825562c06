# Sourced by the bench scripts: writes the Knot DNS configuration they all use, so every run
# compares against Knot set up the same way (UDP payload 1232 like meridiand, no journal, the
# zone file read as is).
#   write_knot_conf FILE LISTEN WORKDIR ORIGIN ZONEFILE     (LISTEN as knot wants it: ip@port)
write_knot_conf() {
  local file=$1 listen=$2 workdir=$3 origin=$4 zonefile=$5
  cat > "$file" <<CONF
server:
    listen: $listen
    rundir: $workdir
    udp-max-payload: 1232
database:
    storage: $workdir/db
log:
  - target: stderr
    any: error
template:
  - id: default
    storage: $workdir
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: $origin
    file: $zonefile
CONF
}
