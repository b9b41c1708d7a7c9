# iso9660 fixtures (sourced by make_fixtures.sh): none yet.
