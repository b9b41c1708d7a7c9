# ntfs fixtures (sourced by make_fixtures.sh): being written
