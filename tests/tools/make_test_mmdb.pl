#!/usr/bin/perl
# Builds a small GeoIP2-City-shaped MaxMind DB from a JSON description, for tests (reserved and
# documentation networks such as 198.18.0.0/15 allowed). Usage: make_test_mmdb.pl IN.json OUT.mmdb
#
# {"ip_version": 6, "database_type": "Meridian-Test-City", "alias_ipv6_to_ipv4": false,
#  "networks": [{"network": "198.18.1.0/24", "continent": "EU", "country": "DE",
#                "subdivision": "BY", "latitude": 48.1, "longitude": 11.6}, ...]}
# Every field of a network except "network" is optional.
use strict;
use warnings;

use JSON::PP;
use MaxMind::DB::Writer::Tree;

die "usage: $0 IN.json OUT.mmdb\n" unless @ARGV == 2;
my ($in, $out) = @ARGV;

open(my $fh, '<', $in) or die "$in: $!\n";
my $spec = decode_json(do { local $/; <$fh> });
close($fh);

my %types = (
    continent    => 'map',
    country      => 'map',
    subdivisions => ['array', 'map'],
    location     => 'map',
    code         => 'utf8_string',
    iso_code     => 'utf8_string',
    latitude     => 'double',
    longitude    => 'double',
);

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => $spec->{ip_version} // 6,
    record_size              => $spec->{record_size} // 28,
    database_type            => $spec->{database_type} // 'Meridian-Test-City',
    languages                => ['en'],
    description              => { en => 'Meridian test database' },
    alias_ipv6_to_ipv4       => $spec->{alias_ipv6_to_ipv4} ? 1 : 0,
    remove_reserved_networks => 0,
    map_key_type_callback    => sub { $types{ $_[0] } // die "no type for key $_[0]\n" },
);

for my $n (@{ $spec->{networks} }) {
    my %record;
    $record{continent} = { code => $n->{continent} } if defined $n->{continent};
    $record{country} = { iso_code => $n->{country} } if defined $n->{country};
    $record{subdivisions} = [ { iso_code => $n->{subdivision} } ] if defined $n->{subdivision};
    if (defined $n->{latitude} && defined $n->{longitude}) {
        $record{location} = { latitude => 0.0 + $n->{latitude}, longitude => 0.0 + $n->{longitude} };
    }
    $tree->insert_network($n->{network}, \%record);
}

open(my $ofh, '>:raw', $out) or die "$out: $!\n";
$tree->write_tree($ofh);
close($ofh) or die "$out: $!\n";
