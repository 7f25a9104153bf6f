/* A flat tape in C: the floor that demos/bench_graph.py measures every engine against.

   The tape is an array of records of 7 ints (demos/graph_workload.py writes it): the op, the slot of
   its first output, the number of operands and up to 4 operand slots. One run fills the value of every
   slot (inputs first), then walks the tape backwards adding grad * partial into each operand's
   gradient, as a hand-written reverse-mode engine in C does. Same formulas as the Python engines:
   softplus(x) = max(x, 0) + log1p(exp(-|x|)), its derivative the sigmoid; softmax from the
   differences to the largest operand. */
#include <math.h>
#include <string.h>

enum { SOFTPLUS, SUM, MUL, SOFTMAX };
#define RECORD 7

static double softplus(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }

static double sigmoid(double x) {
    double e = exp(-fabs(x));
    return x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

static void forward(const int *tape, int n_records, double *v) {
    for (int r = 0; r < n_records; r++) {
        const int *t = tape + RECORD * r;
        const int out = t[1], n = t[2], *in = t + 3;
        switch (t[0]) {
        case SOFTPLUS: v[out] = softplus(v[in[0]]); break;
        case SUM: {
            double s = 0.0;
            for (int i = 0; i < n; i++) s += v[in[i]];
            v[out] = s;
            break;
        }
        case MUL: v[out] = v[in[0]] * v[in[1]]; break;
        case SOFTMAX: {
            double top = v[in[0]], total = 0.0;
            for (int i = 1; i < n; i++) top = fmax(top, v[in[i]]);
            for (int i = 0; i < n; i++) total += v[out + i] = exp(v[in[i]] - top);
            for (int i = 0; i < n; i++) v[out + i] /= total;
            break;
        }
        }
    }
}

static void backward(const int *tape, int n_records, const double *v, double *g) {
    for (int r = n_records - 1; r >= 0; r--) {
        const int *t = tape + RECORD * r;
        const int out = t[1], n = t[2], *in = t + 3;
        switch (t[0]) {
        case SOFTPLUS: g[in[0]] += g[out] * sigmoid(v[in[0]]); break;
        case SUM:
            for (int i = 0; i < n; i++) g[in[i]] += g[out];
            break;
        case MUL:
            g[in[0]] += g[out] * v[in[1]];
            g[in[1]] += g[out] * v[in[0]];
            break;
        case SOFTMAX: { /* d y_j / d x_i = y_j (delta_ij - y_i) */
            double dot = 0.0;
            for (int i = 0; i < n; i++) dot += g[out + i] * v[out + i];
            for (int i = 0; i < n; i++) g[in[i]] += v[out + i] * (g[out + i] - dot);
            break;
        }
        }
    }
}

/* The value of slot `output` and the gradients of the n_inputs inputs, for each of `rows` rows of X;
   v and g are scratch arrays of n_slots doubles. */
void tape_run(const int *tape, int n_records, int n_inputs, int n_slots, int output, int rows,
              const double *X, double *values, double *grads, double *v, double *g) {
    for (int row = 0; row < rows; row++) {
        memcpy(v, X + (long)row * n_inputs, sizeof(double) * n_inputs);
        forward(tape, n_records, v);
        memset(g, 0, sizeof(double) * n_slots);
        g[output] = 1.0;
        backward(tape, n_records, v, g);
        values[row] = v[output];
        memcpy(grads + (long)row * n_inputs, g, sizeof(double) * n_inputs);
    }
}
