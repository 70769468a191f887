package simulate

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natsintake "github.com/parleyhq/parley/intake/nats"
)

// FollowUpQueueReport says how the Follow-Up Requests published through
// the queue fared.
type FollowUpQueueReport struct {
	Queue     string  `json:"queue"`
	Published int     `json:"published"`
	Accepted  int     `json:"accepted"` // taken in by Parley (its metric)
	Seconds   float64 `json:"seconds"`  // from the first publish to the last taken in
}

// publishFollowUps sends a Follow-Up Request for every conversation of the
// tenant through the queue, as another service would, and waits until
// Parley has taken them all in.
func publishFollowUps(ctx context.Context, base, key, queue string) (*FollowUpQueueReport, error) {
	ids, err := conversationIDs(ctx, base, key)
	if err != nil {
		return nil, err
	}
	rep := &FollowUpQueueReport{Queue: queue}
	before, err := acceptedSoFar(ctx, base)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	bodies := make([]string, len(ids))
	for i, id := range ids {
		b, _ := json.Marshal(map[string]string{"id": id, "origin": "parley simulate"})
		bodies[i] = string(b)
	}
	if strings.HasPrefix(queue, "nats://") {
		err = publishNATS(ctx, queue, bodies)
	} else {
		err = publishSQS(ctx, queue, bodies)
	}
	if err != nil {
		return nil, fmt.Errorf("publish follow-up requests: %w", err)
	}
	rep.Published = len(bodies)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n, err := acceptedSoFar(ctx, base)
		if err != nil {
			return nil, err
		}
		rep.Accepted = n - before
		if rep.Accepted >= rep.Published || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func conversationIDs(ctx context.Context, base, key string) ([]string, error) {
	var ids []string
	cursor := ""
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/conversations?limit=200&cursor="+cursor, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		var page struct {
			Items      []struct{ ID string }
			NextCursor string `json:"next_cursor"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("list conversations: %w", err)
		}
		for _, c := range page.Items {
			ids = append(ids, c.ID)
		}
		if page.NextCursor == "" {
			return ids, nil
		}
		cursor = page.NextCursor
	}
}

// acceptedSoFar reads parley_followup_queue_messages_total{outcome="accepted"}.
func acceptedSoFar(ctx context.Context, base string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	if tok := os.Getenv("PARLEY_METRICS_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	total := 0
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "parley_followup_queue_messages_total{") && strings.Contains(line, `outcome="accepted"`) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			total += int(v)
		}
	}
	return total, sc.Err()
}

func publishSQS(ctx context.Context, queue string, bodies []string) error {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithDefaultRegion("us-east-1"))
	if err != nil {
		return err
	}
	client := awssqs.NewFromConfig(cfg, func(o *awssqs.Options) {
		if ep := os.Getenv("PARLEY_SQS_ENDPOINT"); ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
	})
	for i := 0; i < len(bodies); i += 10 {
		var entries []types.SendMessageBatchRequestEntry
		for j := i; j < min(i+10, len(bodies)); j++ {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String(bodies[j])})
		}
		out, err := client.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(queue), Entries: entries})
		if err != nil {
			return err
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("SQS refused %d messages: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
	}
	return nil
}

func publishNATS(ctx context.Context, queue string, bodies []string) error {
	server, _, subject, err := natsintake.ParseURL(queue)
	if err != nil {
		return err
	}
	nc, err := natsgo.Connect(server)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	for _, b := range bodies {
		if _, err := js.Publish(ctx, subject, []byte(b)); err != nil {
			return err
		}
	}
	return nil
}
