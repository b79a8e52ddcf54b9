module reloadapp

go 1.26
