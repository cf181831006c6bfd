package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// gets times sequential GETs of one pod through the apiserver (client-go,
// no resourceVersion: a quorum read) and raw etcd gets of its key.
func (b *bench) gets(ctx context.Context) (api, raw benchutil.Latencies, err error) {
	const name = "get-target"
	if err := b.createPod(ctx, warmNS, name); err != nil {
		return nil, nil, err
	}
	pods := b.cs.CoreV1().Pods(warmNS)
	key := "/registry/pods/" + warmNS + "/" + name
	warm := min(b.cfg.Gets, 100)
	for range warm {
		if _, err := pods.Get(ctx, name, metav1.GetOptions{}); err != nil {
			return nil, nil, err
		}
		if _, err := b.raw.Get(ctx, key); err != nil {
			return nil, nil, err
		}
	}
	raw = make(benchutil.Latencies, 0, b.cfg.Gets)
	for range b.cfg.Gets {
		start := time.Now()
		if _, err := b.raw.Get(ctx, key); err != nil {
			return nil, nil, err
		}
		raw = append(raw, time.Since(start))
	}
	api = make(benchutil.Latencies, 0, b.cfg.Gets)
	err = b.profiled("get", func() error {
		for range b.cfg.Gets {
			start := time.Now()
			if _, err := pods.Get(ctx, name, metav1.GetOptions{}); err != nil {
				return err
			}
			api = append(api, time.Since(start))
		}
		return nil
	})
	return api, raw, err
}

// listResult is the LIST benchmark: medians of each kind.
type listResult struct {
	Items, RawItems      int
	JSONBytes, RawBytes  int
	ColdHTTP             time.Duration // the first list, which encodes every cached pod
	HTTP, ClientGo, Raw  time.Duration // medians
	HTTPs, ClientGos, Rs benchutil.Latencies
}

// lists fills the namespace to ListPods pods, then times unpaginated lists
// three ways: raw HTTP GET (body read, not decoded), client-go List (body
// decoded into a PodList) and a raw etcd range over the same keys.
func (b *bench) lists(ctx context.Context) (*listResult, error) {
	prefix := "/registry/pods/" + benchNS + "/"
	have, err := b.raw.Count(ctx, prefix)
	if err != nil {
		return nil, err
	}
	if missing := b.cfg.ListPods - int(have); missing > 0 {
		if _, err := parallel(ctx, missing, 16, func(ctx context.Context, i int) error {
			return b.createPod(ctx, benchNS, fmt.Sprintf("fill-%06d", i))
		}); err != nil {
			return nil, err
		}
	}
	if err := b.settle(ctx); err != nil {
		return nil, err
	}
	r := &listResult{}

	var body bytes.Buffer
	d, err := b.httpList(ctx, &body)
	if err != nil {
		return nil, err
	}
	r.ColdHTTP = d
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body.Bytes(), &list); err != nil {
		return nil, fmt.Errorf("decode pod list: %w", err)
	}
	r.Items, r.JSONBytes = len(list.Items), body.Len()

	for range b.cfg.ListRepeats {
		start := time.Now()
		n, size, err := b.raw.RangePrefix(ctx, prefix)
		if err != nil {
			return nil, err
		}
		r.Rs = append(r.Rs, time.Since(start))
		r.RawItems, r.RawBytes = n, size
	}
	err = b.profiled("list-http", func() error {
		for range b.cfg.ListRepeats {
			d, err := b.httpList(ctx, &body)
			if err != nil {
				return err
			}
			r.HTTPs = append(r.HTTPs, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = b.profiled("list-clientgo", func() error {
		for range b.cfg.ListRepeats {
			start := time.Now()
			l, err := b.cs.CoreV1().Pods(benchNS).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			r.ClientGos = append(r.ClientGos, time.Since(start))
			if len(l.Items) != r.Items {
				return fmt.Errorf("client-go listed %d pods, raw HTTP %d", len(l.Items), r.Items)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r.RawItems != r.Items {
		return nil, fmt.Errorf("etcd holds %d pods under %s, the apiserver listed %d", r.RawItems, prefix, r.Items)
	}
	r.HTTP, r.ClientGo, r.Raw = r.HTTPs.Quantile(0.5), r.ClientGos.Quantile(0.5), r.Rs.Quantile(0.5)
	return r, nil
}

// httpList GETs the pod list as plain JSON into body, reading it whole.
func (b *bench) httpList(ctx context.Context, body *bytes.Buffer) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"/api/v1/namespaces/"+benchNS+"/pods", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	body.Reset()
	start := time.Now()
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := body.ReadFrom(resp.Body); err != nil {
		return 0, err
	}
	d := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("list pods: %s: %.200s", resp.Status, body.Bytes())
	}
	return d, nil
}
