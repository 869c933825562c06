#!/usr/bin/perl
# Writes Meridian's default country database (MaxMind DB format, GeoIP2-Country shaped, plus a
# centroid location) from Tor's geoip/geoip6 range files and the repository's centroid table.
# Usage: mmdb_writer.pl GEOIP GEOIP6 COUNTRY_CENTROIDS_CSV OUT.mmdb
use strict;
use warnings;

use MaxMind::DB::Writer::Tree;
use Socket qw(inet_ntoa);

die "usage: $0 GEOIP GEOIP6 COUNTRY_CENTROIDS_CSV OUT.mmdb\n" unless @ARGV == 4;
my ($geoip4, $geoip6, $centroids_csv, $out) = @ARGV;

# code -> [continent, lat, lon] from userspace/geo/data/country_centroids.csv.
my %centroid;
open(my $cfh, '<', $centroids_csv) or die "$centroids_csv: $!\n";
while (my $line = <$cfh>) {
    next if $line =~ /^#/ || $line =~ /^code,/ || $line !~ /\S/;
    my ($code, $continent, $lat, $lon) = split /,/, $line;
    $centroid{$code} = [ $continent, 0.0 + $lat, 0.0 + $lon ];
}
close($cfh);
die "$centroids_csv: no countries\n" unless %centroid;

# Tor's files carry a few codes that are not ISO 3166-1 countries. UK is GB; EU means "somewhere
# in Europe" (continent only); the rest (?? unknown, AP Asia/Pacific, SU, ZZ, ...) say nothing
# usable and are left out, so lookups there find no data.
my %alias = (UK => 'GB');
my %records;  # code -> shared record (the writer stores each distinct record once)
sub record_for {
    my ($code) = @_;
    $code = $alias{$code} // $code;
    return $records{$code} if exists $records{$code};
    my $record;
    if ($code eq 'EU') {
        $record = { continent => { code => 'EU' } };
    } elsif (my $c = $centroid{$code}) {
        $record = {
            continent => { code     => $c->[0] },
            country   => { iso_code => $code },
            location  => { latitude => $c->[1], longitude => $c->[2] },
        };
    }
    return $records{$code} = $record;
}

my %types = (
    continent => 'map',
    country   => 'map',
    location  => 'map',
    code      => 'utf8_string',
    iso_code  => 'utf8_string',
    latitude  => 'double',
    longitude => 'double',
);

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version            => 6,
    record_size           => 28,
    database_type         => 'Meridian-Country',
    languages             => ['en'],
    description           => { en => 'Meridian country database built from tor-geoipdb (IPFire Location data, CC BY-SA 4.0)' },
    alias_ipv6_to_ipv4    => 1,
    map_key_type_callback => sub { $types{ $_[0] } // die "no type for key $_[0]\n" },
);

my (%inserted, %skipped);
# Adjacent ranges of the same code are merged first: fewer, larger inserts.
sub load {
    my ($file, $to_text) = @_;
    open(my $fh, '<', $file) or die "$file: $!\n";
    my ($first, $last, $code);
    my $flush = sub {
        return unless defined $first;
        my $record = record_for($code);
        if ($record) {
            # 6to4 (2002::/16) and Teredo (2001::/32) are aliases of the IPv4 space in the
            # tree; their own lines in geoip6 are dropped in favour of the IPv4 data.
            eval { $tree->insert_range($to_text->($first), $to_text->($last), $record); 1 }
                or do {
                    die $@ unless $@ =~ /aliased network/;
                    $skipped{"$code (IPv4 alias)"}++;
                    return;
                };
            $inserted{$code}++;
        } else {
            $skipped{$code}++;
        }
    };
    while (my $line = <$fh>) {
        next if $line =~ /^#/ || $line !~ /\S/;
        chomp $line;
        my ($lo, $hi, $cc) = split /,/, $line;
        die "$file:$.: cannot parse '$line'\n" unless defined $cc;
        if (defined $code && $cc eq $code && $to_text->('adjacent', $last, $lo)) {
            $last = $hi;
            next;
        }
        $flush->();
        ($first, $last, $code) = ($lo, $hi, $cc);
    }
    $flush->();
    close($fh);
}

# IPv4 lines are "first,last,CC" with addresses as integers.
load($geoip4, sub {
    return $_[2] == $_[1] + 1 if $_[0] eq 'adjacent';
    return inet_ntoa(pack('N', $_[0]));
});
# IPv6 lines are "first,last,CC" with textual addresses; merging would need 128-bit arithmetic
# and buys little, so they go in as they are.
load($geoip6, sub {
    return 0 if $_[0] eq 'adjacent';
    return $_[0];
});

open(my $ofh, '>:raw', $out) or die "$out: $!\n";
$tree->write_tree($ofh);
close($ofh) or die "$out: $!\n";

my $n_in = 0; $n_in += $_ for values %inserted;
my $n_skip = 0; $n_skip += $_ for values %skipped;
printf STDERR "mmdb_writer: %d ranges inserted (%d codes), %d skipped (%s)\n", $n_in,
    scalar(keys %inserted), $n_skip, join(' ', sort keys %skipped);
