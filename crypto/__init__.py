"""Pure cryptography: timelock (tlock over age), BLS beacons, Merkle log, signed notes. Imports nothing of the project."""
