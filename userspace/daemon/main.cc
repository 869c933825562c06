int main() { return 2; }  // placeholder: implementation pending
