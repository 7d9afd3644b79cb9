package loader

import "github.com/google/uuid"

// NewLoadID is a new load's id: a UUIDv7, unique and ordered by the time
// it was made, as its history records it and a stamp column receives it.
func NewLoadID() string {
	id, err := uuid.NewV7()
	if err != nil { // only when the system's random source fails
		panic("loader: no random source for a load id: " + err.Error())
	}
	return id.String()
}
