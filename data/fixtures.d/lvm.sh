# lvm fixtures (sourced by make_fixtures.sh): none yet.
