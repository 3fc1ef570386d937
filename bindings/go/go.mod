module libfutures/bindings/go

go 1.23
