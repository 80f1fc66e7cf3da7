// A Go program talking to memdb with a standard PostgreSQL driver
// (lib/pq, Debian's golang-github-lib-pq-dev). Run against a server:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run examples/go/main.go "postgres://memdb@127.0.0.1:5432/memdb?sslmode=disable"
package main

import (
	"database/sql"
	"fmt"
	"os"

	_ "github.com/lib/pq"
)

func main() {
	url := "postgres://memdb@127.0.0.1:5432/memdb?sslmode=disable"
	if len(os.Args) > 1 {
		url = os.Args[1]
	}
	db, err := sql.Open("postgres", url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer db.Close()
	steps := []string{
		"DROP TABLE IF EXISTS go_items",
		"CREATE TABLE go_items (id int PRIMARY KEY, name text)",
	}
	for _, step := range steps {
		if _, err := db.Exec(step); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if _, err := db.Exec("INSERT INTO go_items VALUES ($1, $2), ($3, $4)", 1, "one", 2, "two"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var name string
	if err := db.QueryRow("SELECT name FROM go_items WHERE id = $1", 2).Scan(&name); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("item 2 is", name)
}
