package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loadsvc/loadsvc/client"
	loadsvcv1 "github.com/loadsvc/loadsvc/proto/loadsvc/v1"
)

// planLoad asks for the plan of the whole file in one plan-only request;
// idx records where each row is in the source.
func planLoad(ctx context.Context, c *client.Client, cfg *loadsvcv1.LoadConfig, src rowSource, name string, max int, idx *posIndex) (*loadsvcv1.LoadResponse, error) {
	var rows []*structpb.Struct
	for {
		row, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(rows) == max {
			return nil, fmt.Errorf("%s has more than %d rows, too many for --plan, which sends every row in one request: raise --max-plan-rows (the service refuses more than its own --max-rows) or plan a part of the file", name, max)
		}
		s, err := planRow(row)
		if err != nil {
			return nil, fmt.Errorf("%s: row %d: %w", name, len(rows)+1, err)
		}
		rows = append(rows, s)
		idx.add(src.Pos())
	}
	return c.Service().Load(ctx, &loadsvcv1.LoadRequest{Config: cfg, Rows: rows})
}

// planRow turns a row into a JSON row whose values the service writes
// exactly as the stream would: exact numbers and nested JSON go as text.
func planRow(row client.Row) (*structpb.Struct, error) {
	s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(row))}
	for k, v := range row {
		switch v := v.(type) {
		case nil:
			s.Fields[k] = structpb.NewNullValue()
		case string:
			s.Fields[k] = structpb.NewStringValue(v)
		case bool:
			s.Fields[k] = structpb.NewBoolValue(v)
		case json.Number:
			s.Fields[k] = structpb.NewStringValue(v.String())
		case json.RawMessage:
			s.Fields[k] = structpb.NewStringValue(string(v))
		default:
			return nil, fmt.Errorf("column %q: unexpected value type %T", k, v)
		}
	}
	return s, nil
}
