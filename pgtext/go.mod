module github.com/loadsvc/loadsvc/pgtext

go 1.26.8
